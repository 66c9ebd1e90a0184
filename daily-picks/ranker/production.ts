/**
 * The version in production as the ranker stage sees it: loaded, and whether it can still serve
 * today's catalogue. The train step compares with it; the rank shards fall back to it when
 * training failed. Both refuse it the same way when it cannot serve.
 */
import type { Catalogue } from '../../model/data/catalogue.ts';
import { catalogueMatch, loadRanker } from '../../model/ranker/artifact.ts';
import type { RankerModel } from '../../model/ranker/scorer.ts';
import { getModelVersion } from '../../core/db/queries/models.ts';
import { productionModel, type ModelVersionRow } from '../../model/registry.ts';
import { asServingPlan, type ServingPlan } from '../../model/serving-plan.ts';
import type { TaskConnections } from '../../operators/connections.ts';

export type LoadedProduction = {
  /** The registry row, null when nothing is in production. */
  current: ModelVersionRow | null;
  /** Its ranker, when it can serve (the caller disposes it). */
  model: RankerModel | null;
  /** Why it cannot serve: its catalogue no longer matches the data, or it cannot be loaded. */
  unusable: { version: string; reason: string } | null;
};

/** The production version, loaded, and whether it can still serve this catalogue. */
export async function loadProduction(db: TaskConnections['db'], modelName: string, catalogue: Catalogue, log: (message: string) => void): Promise<LoadedProduction> {
  return loadServable(await productionModel(db, modelName), 'production model', catalogue, log);
}

/**
 * A registered version (an experiment's variant), loaded, and whether it can serve this
 * catalogue: refused the same way as production, and also when it does not exist or did not
 * succeed.
 */
export async function loadVersion(db: TaskConnections['db'], version: string, catalogue: Catalogue, log: (message: string) => void): Promise<LoadedProduction> {
  const row = await getModelVersion(db, version);
  const refused = (reason: string): LoadedProduction => {
    log(`model version ${version} is not used: ${reason}`);
    return { current: row, model: null, unusable: { version, reason } };
  };
  if (!row) return refused('no such version is registered');
  if (row.status !== 'succeeded') return refused(`its training ${row.status === 'running' ? 'has not finished' : 'failed'}`);
  if (!row.artifactPath) return refused('it has no artifact');
  return loadServable(row, 'model version', catalogue, log);
}

async function loadServable(current: ModelVersionRow | null, what: string, catalogue: Catalogue, log: (message: string) => void): Promise<LoadedProduction> {
  if (!current?.artifactPath) return { current, model: null, unusable: null };
  try {
    const model = await loadRanker(current.artifactPath);
    const match = catalogueMatch(model, catalogue.classIds);
    if (match.stale) {
      model.network.dispose();
      log(`${what} ${current.version} is not used: ${match.reason}`);
      return { current, model: null, unusable: { version: current.version, reason: match.reason } };
    }
    return { current, model, unusable: null };
  } catch (error) {
    const reason = `it cannot be loaded (${(error as Error).message})`;
    log(`${what} ${current.version} is not used: ${reason}`);
    return { current, model: null, unusable: { version: current.version, reason } };
  }
}

/** A registry `serving` value as the plan part of a ServingModel (nothing for versions without one). */
export function withPlan(serving: unknown): { plan?: ServingPlan } {
  const plan = asServingPlan(serving);
  return plan ? { plan } : {};
}
