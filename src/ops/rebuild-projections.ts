import { rebuildWorkflows } from '../app/workflow-projection.ts';
import { openDatabase } from '../store/database.ts';
import { EventStore } from '../store/event-store.ts';
import { withDatabaseUrl } from './with-database.ts';

// npm run projections:rebuild: rebuild every read model from the events.
await withDatabaseUrl(async (url) => {
  const db = openDatabase(url, 2);
  try {
    const workflows = await rebuildWorkflows(db, new EventStore(db));
    console.log(JSON.stringify({ workflows }));
  } finally {
    await db.close();
  }
});
