import type { Principal } from '../graphql/context.ts';

/** A GraphQL request made on a REST request's behalf. */
export interface GraphQLCall {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  /** The REST request's headers that a GraphQL request would carry (request id, consistency token, origin). */
  readonly headers: Readonly<Record<string, string>>;
  /** The caller, admitted (authenticated and counted) once, by the route. */
  readonly admitted: Promise<Principal>;
  readonly principal: Principal;
}

/** What the GraphQL endpoint answered: a JSON body and the headers about it. */
export interface GraphQLAnswer {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The GraphQL endpoint as REST reaches it: the same path as a client's request (the response
 * cache for queries, Yoga for the rest), with no HTTP in between.
 */
export interface GraphQLEndpoint {
  answer(call: GraphQLCall): Promise<GraphQLAnswer>;
  /** A subscription as Server-Sent Events, ended by `signal`. */
  stream(call: GraphQLCall, signal: AbortSignal): Promise<Response>;
}
