import { graphql } from './gql/index.ts';

// The documents codegen reads: each graphql() call below is typed from its text, so a field
// renamed in the schema fails `npm run examples:check` here. The fragments are only read by
// codegen, which puts their text into the operations that spread them.

graphql(`
  fragment WorkflowFields on Workflow {
    id
    name
    description
    version
    status
    definition
    createdAt
    updatedAt
  }
`);

export const ListWorkflows = graphql(`
  query ListWorkflows($first: Int, $after: String, $filter: WorkflowFilter) {
    workflows(first: $first, after: $after, filter: $filter) {
      totalCount
      edges {
        cursor
        node {
          ...WorkflowFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CreateWorkflow = graphql(`
  mutation CreateWorkflow($input: CreateWorkflowInput!) {
    createWorkflow(input: $input) {
      ...WorkflowFields
    }
  }
`);

export const UpdateWorkflow = graphql(`
  mutation UpdateWorkflow($input: UpdateWorkflowInput!) {
    updateWorkflow(input: $input) {
      ...WorkflowFields
    }
  }
`);

graphql(`
  fragment ExecutionFields on Execution {
    id
    status
    workflowVersion
    input
    output
    error {
      name
      message
      node
    }
    version
    createdAt
    endedAt
  }
`);

export const ExecuteWorkflow = graphql(`
  mutation ExecuteWorkflow($input: ExecuteWorkflowInput!) {
    executeWorkflow(input: $input) {
      ...ExecutionFields
    }
  }
`);

export const ExecutionWithSteps = graphql(`
  query ExecutionWithSteps($id: ID!) {
    execution(id: $id) {
      ...ExecutionFields
      stepCount
      steps {
        id
        node
        attempt
        status
        input
        output
        error {
          name
          message
          node
        }
        startedAt
        endedAt
        durationMs
      }
    }
  }
`);

export const LiveEvents = graphql(`
  subscription LiveEvents($after: String, $aggregateType: AggregateType, $aggregateId: ID, $types: [String!]) {
    events(after: $after, aggregateType: $aggregateType, aggregateId: $aggregateId, types: $types) {
      cursor
      caughtUp
      event {
        id
        type
        aggregateType
        aggregateId
        version
        data
        createdAt
      }
    }
  }
`);
