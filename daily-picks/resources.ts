/**
 * What a Daily Picks task connects to: the operators' task connections (`withConnections`),
 * under the names the steps and the CLI use.
 */
export { withConnections as withResources, type TaskConnections as PipelineResources } from '../operators/connections.ts';
