import express from 'express';
import { z } from 'zod';
import { MODEL_STAGES, listModels, promoteModel, requireModel } from '../../model/registry.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { limitParam, parseInput, parseParam } from '../http.ts';
import type { ApiContext } from './context.ts';

const versionParam = z.string().min(1).max(200).regex(/^[A-Za-z0-9._:@-]+$/, 'not a model version');

const modelsQuery = z
  .object({
    limit: limitParam(50, 500),
    cursor: versionParam.optional(),
    stage: z.enum(MODEL_STAGES).optional(),
    modelName: z.string().min(1).max(64).optional(),
  })
  .strict();

const promoteBody = z.object({}).strict();

/** The model registry: `GET /models` (newest first, keyset pages), `GET /models/:version`, `POST /models/:version/promote` (operator). */
export function modelsRouter(context: ApiContext): express.Router {
  const router = express.Router();

  router.get('/models', requireRole('viewer'), async (req, res) => {
    const q = parseInput(modelsQuery, req.query, 'query');
    const page = await listModels(context.db, {
      limit: q.limit,
      ...(q.cursor !== undefined ? { before: q.cursor } : {}),
      ...(q.stage ? { stage: q.stage } : {}),
      ...(q.modelName ? { modelName: q.modelName } : {}),
    });
    res.json(page);
  });

  router.get('/models/:version', requireRole('viewer'), async (req, res) => {
    const version = parseParam(versionParam, req.params.version, 'version');
    res.json(await requireModel(context.db, version));
  });

  router.post('/models/:version/promote', requireWrite('operator'), async (req, res) => {
    const version = parseParam(versionParam, req.params.version, 'version');
    parseInput(promoteBody, req.body);
    const result = await promoteModel(context.db, version, {
      by: req.auth!.user.username,
      audit: auditHook(req, 'model.promote', { target: version }),
    });
    res.json({ ...result, model: await requireModel(context.db, version) });
  });

  return router;
}
