// @ts-check
// The API payloads the UI reads, as web/api/*.ts and web/picks-api.ts send them. They are written
// out here rather than imported from the server's .ts files so the UI type-checks on its own
// (no server folders in its program); keep them in step with the API. Dates arrive as ISO
// strings (JSON), and nothing checks a payload at run time: these describe, they do not validate.

/** @typedef {null | boolean | number | string | readonly unknown[] | { readonly [key: string]: unknown }} JsonValue */
/** @typedef {{ [key: string]: JsonValue }} JsonObject */

/** @typedef {'viewer' | 'operator' | 'admin'} Role */
/** @typedef {'none' | 'scheduled' | 'queued' | 'running' | 'success' | 'failed' | 'up_for_retry' | 'upstream_failed' | 'skipped'} TaskState */
/** @typedef {'queued' | 'running' | 'success' | 'failed'} DagRunState */
/** @typedef {'scheduled' | 'manual' | 'backfill'} RunType */

/**
 * A user as the API shows one (PublicUser).
 * @typedef {object} User
 * @property {number} id
 * @property {string} username
 * @property {Role} role
 * @property {boolean} isActive
 * @property {string} createdAt
 * @property {string | null} lastLoginAt
 */

/**
 * `GET /session`: `user` is null when logged out; `csrfToken` comes with browser sessions only.
 * @typedef {object} SessionInfo
 * @property {User | null} user
 * @property {'session' | 'token'} [method]
 * @property {string} [csrfToken]
 */

/**
 * `POST /session`.
 * @typedef {object} LoginResult
 * @property {User} user
 * @property {string} csrfToken
 */

/**
 * One task's structure (StoredTask).
 * @typedef {object} StoredTask
 * @property {string} taskId
 * @property {string[]} upstream
 * @property {string} pool
 * @property {string} triggerRule
 * @property {number} retries
 * @property {number} priorityWeight
 * @property {boolean} sandboxed
 * @property {number | null} executionTimeoutMs
 * @property {string | null} doc
 */

/**
 * A DAG (dagView in web/api/dags.ts).
 * @typedef {object} Dag
 * @property {string} dagId
 * @property {string | null} description
 * @property {string} fileloc
 * @property {string | null} schedule
 * @property {string} timezone
 * @property {boolean} catchup
 * @property {string | null} startDate
 * @property {string | null} endDate
 * @property {number} maxActiveRuns
 * @property {number} maxActiveTasks
 * @property {string[]} tags
 * @property {boolean} isPaused
 * @property {boolean} isActive
 * @property {StoredTask[]} tasks
 * @property {{ logicalDate: string, createAfter: string | null } | null} nextRun
 * @property {string} lastParsedAt
 */

/**
 * A recent run in the DAG list (RecentRun).
 * @typedef {object} RecentRun
 * @property {string} runId
 * @property {DagRunState} state
 * @property {string} logicalDate
 * @property {RunType} runType
 */

/** @typedef {Dag & { recentRuns: RecentRun[], activeRuns: number }} DagListItem */

/**
 * `GET /dags`.
 * @typedef {object} DagList
 * @property {DagListItem[]} dags
 * @property {{ filename: string, message: string, createdAt: string }[]} importErrors
 */

/**
 * A DAG run (runView / RunSummary): `id` is the database id, `runId` the name.
 * @typedef {object} DagRun
 * @property {number} id
 * @property {string} dagId
 * @property {string} runId
 * @property {RunType} runType
 * @property {string} logicalDate
 * @property {string} dataIntervalStart
 * @property {string} dataIntervalEnd
 * @property {DagRunState} state
 * @property {JsonObject} conf
 * @property {string} queuedAt
 * @property {string | null} startDate
 * @property {string | null} endDate
 * @property {string | null} triggeredBy
 */

/**
 * A grid cell: one task instance without its output (GridCell).
 * @typedef {object} GridCell
 * @property {number} dagRunId
 * @property {string} taskId
 * @property {TaskState} state
 * @property {number} tryNumber
 * @property {number} maxTries
 * @property {string | null} startDate
 * @property {string | null} endDate
 * @property {number | null} durationMs
 */

/**
 * `GET /dags/:dagId/grid`: a page of runs, newest first, and their task instances.
 * @typedef {object} Grid
 * @property {Dag} dag
 * @property {DagRun[]} runs
 * @property {string | null} nextCursor
 * @property {GridCell[]} taskInstances
 */

/**
 * One try of a task instance (TryView); `current` marks the one in progress.
 * @typedef {object} Try
 * @property {number} tryNumber
 * @property {string} state
 * @property {string | null} startDate
 * @property {string | null} endDate
 * @property {number | null} durationMs
 * @property {string | null} hostname
 * @property {unknown} output
 * @property {string | null} error
 * @property {boolean} current
 */

/**
 * `GET /dags/:dagId/runs/:runId/taskInstances/:taskId`: the instance and its tries, oldest first.
 * @typedef {object} TaskInstance
 * @property {number} dagRunId
 * @property {string} taskId
 * @property {string} dagId
 * @property {string} runId
 * @property {TaskState} state
 * @property {number} tryNumber
 * @property {number} maxTries
 * @property {string} pool
 * @property {number} priorityWeight
 * @property {string | null} queuedAt
 * @property {string | null} startDate
 * @property {string | null} endDate
 * @property {number | null} durationMs
 * @property {string | null} hostname
 * @property {number | null} pid
 * @property {string | null} heartbeatAt
 * @property {string | null} nextRetryAt
 * @property {JsonValue} output
 * @property {string | null} error
 * @property {string} updatedAt
 * @property {Try[]} tries
 */

/**
 * `GET …/tries/:tryNumber/logs`.
 * @typedef {object} LogPage
 * @property {number} tryNumber
 * @property {{ id: number, loggedAt: string, level: string, message: string }[]} lines
 * @property {number} nextAfter
 * @property {boolean} more
 */

/**
 * One task instance a clear or mark changes (or, in a dry run, would change).
 * @typedef {object} TaskInstanceChange
 * @property {string} dagId
 * @property {string} runId
 * @property {string} taskId
 * @property {TaskState} state its state now
 * @property {number} tryNumber its try number now
 * @property {TaskState} newState
 */

/**
 * What every clear / mark answers (with `dryRun: true`, what it would change).
 * @typedef {object} ActionResult
 * @property {string} dagId
 * @property {string} runId
 * @property {boolean} dryRun
 * @property {TaskInstanceChange[]} taskInstances
 */

/**
 * `POST …/clear` (a run's failed tasks, or a task with its scope).
 * @typedef {ActionResult & { cleared: string[] }} ClearResult
 */

/**
 * `PATCH …/taskInstances/:taskId` (mark success / failed) or `PATCH /dags/:dagId/runs/:runId` (the whole run; no taskId, previousState).
 * @typedef {ActionResult & { taskId?: string, previousState?: TaskState, state: 'success' | 'failed', runState: string }} MarkResult
 */

/**
 * One audit log entry.
 * @typedef {object} AuditEntry
 * @property {number} id
 * @property {string} at
 * @property {string} actor
 * @property {number | null} userId
 * @property {'session' | 'token' | 'cli'} auth
 * @property {string} action
 * @property {string | null} dagId
 * @property {string | null} runId
 * @property {string | null} taskId
 * @property {string | null} target
 * @property {JsonObject} details
 * @property {string | null} ip
 */

/**
 * `GET /auditLog`.
 * @typedef {object} AuditPage
 * @property {AuditEntry[]} entries
 * @property {string | null} nextCursor
 */

/** @typedef {'candidate' | 'production' | 'archived' | 'failed'} ModelStage */
/** @typedef {'running' | 'succeeded' | 'failed'} ModelStatus */
/** Metrics by candidate (`ranker`, `heuristics`, …), each by metric name (`ndcg@10`, …). @typedef {Record<string, Record<string, number>>} ModelMetrics */

/**
 * A model version (ModelVersionRow).
 * @typedef {object} ModelVersion
 * @property {string} version
 * @property {string} modelName
 * @property {ModelStage} stage
 * @property {ModelStatus} status
 * @property {string} backend
 * @property {JsonObject} params
 * @property {string | null} dataLocation
 * @property {Record<string, number>} rowCounts
 * @property {ModelMetrics} metrics
 * @property {number | null} durationMs
 * @property {string | null} artifactPath
 * @property {string | null} dagId
 * @property {string | null} runId
 * @property {string} createdAt
 * @property {string | null} finishedAt
 * @property {string | null} promotedAt
 * @property {string | null} promotedBy
 * @property {string | null} error
 */

/**
 * `GET /models`.
 * @typedef {object} ModelPage
 * @property {ModelVersion[]} models
 * @property {string | null} nextCursor
 */

/**
 * `POST /models/:version/promote`: `previous` is the version it archived, if any.
 * @typedef {object} PromoteResult
 * @property {string} version
 * @property {string} modelName
 * @property {string | null} previous
 * @property {string} promotedAt
 * @property {string} promotedBy
 * @property {ModelVersion} model
 */

/**
 * One pick (the server's PickView).
 * @typedef {object} Pick
 * @property {string} classId
 * @property {string | null} title
 * @property {string | null} discipline
 * @property {number | null} durationMin
 * @property {string | null} instructor
 * @property {number} score
 * @property {string} reason
 */

/**
 * `GET /members/:memberId/picks` (MemberPicksView).
 * @typedef {object} MemberPicks
 * @property {string} memberId
 * @property {'cache' | 'database' | 'heuristics' | 'popular'} source
 * @property {string | null} modelVersion
 * @property {string | null} generatedAt
 * @property {{ row: string, picks: Pick[] }[]} rows
 */

/** @typedef {'scheduled' | 'running' | 'ended' | 'stopped'} ExperimentStatus */

/**
 * An experiment (ExperimentInfo in daily-picks/experiments/store.ts): the first variant is the baseline.
 * @typedef {object} Experiment
 * @property {string} key
 * @property {{ key: string, weight: number }[]} variants
 * @property {string[]} rows
 * @property {string | null} description
 * @property {string} startAt
 * @property {string | null} endAt
 * @property {string | null} stoppedAt
 * @property {string | null} stoppedBy
 * @property {string} createdBy
 * @property {string} createdAt
 * @property {ExperimentStatus} status
 */

/**
 * One variant's numbers over its exposed members (VariantReport); rates are null with nothing to divide by.
 * @typedef {object} VariantReport
 * @property {string} key
 * @property {number} weight
 * @property {number} members
 * @property {number} exposed
 * @property {number} converted
 * @property {number | null} takeRate
 * @property {number} impressions
 * @property {number} clicks
 * @property {number} conversions
 * @property {number | null} conversionsPerImpression
 * @property {number | null} repeatIgnoredRate
 */

/**
 * A treatment's relative lift over the baseline on one metric, with its 95% interval (LiftReport).
 * @typedef {object} LiftReport
 * @property {string} variant
 * @property {string} baseline
 * @property {string} metric
 * @property {number | null} relative
 * @property {number | null} ciLow
 * @property {number | null} ciHigh
 * @property {number | null} pValue
 */

/**
 * `GET /experiments/:key`: the report (ExperimentReport) plus who made and stopped it.
 * @typedef {object} ExperimentReport
 * @property {string} key
 * @property {ExperimentStatus} status
 * @property {VariantReport[]} variants
 * @property {LiftReport[]} lift
 * @property {number | null} srmPValue
 * @property {boolean} srmFlagged
 * @property {{ workoutsPerMember: { until: string, variants: { variant: string, exposed: number, workouts: number, mean: number | null }[], lift: LiftReport[] } }} guardrails
 * @property {string[]} rows
 * @property {string} startAt
 * @property {string | null} endAt
 * @property {string | null} stoppedAt
 * @property {string | null} description
 * @property {string} createdBy
 * @property {string} createdAt
 * @property {string | null} stoppedBy
 */

export {};
