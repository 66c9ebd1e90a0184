import type pg from 'pg';

export interface InteractionsSummary { kind: 'interactions'; file: string; rows: number; workouts: number; membersAdded: number; placeholderClasses: number; replaced: boolean; replacedTables: string[]; seconds: number }
export interface ItemsSummary { kind: 'items'; file: string; rows: number; classesAdded: number; classesUpdated: number; instructorsAdded: number; duplicateIds: number; placeholderClasses: number; replaced: boolean; replacedTables: string[]; seconds: number }
export type ImportSummary = InteractionsSummary | ItemsSummary;
export async function importInteractions(_pool: pg.Pool, _o: { file: string; userCol: string; itemCol: string; timeCol: string; replace?: boolean }): Promise<InteractionsSummary> { throw new Error('not yet'); }
export async function importItems(_pool: pg.Pool, _o: { file: string; itemCol: string; titleCol?: string; categoryCol?: string; durationCol?: string; creatorCol?: string; replace?: boolean }): Promise<ItemsSummary> { throw new Error('not yet'); }
