import type { Database } from '../../core/db/client.ts';
import type { Logger } from '../../core/logger.ts';
import type { ActionContext } from '../../core/scheduler/actions.ts';

/** What the API routers need: reads go to `db`; actions also need the DAG definitions and queues. */
export interface ApiContext {
  db: Database;
  logger: Logger;
  actions: ActionContext;
}
