/**
 * The public surface of the `causeway` command line.
 */
export { buildProgram, packageVersion, runCli } from './src/program.ts';
export type { CliContext, OpenStore, Output } from './src/context.ts';
export { components, describeAvailable } from './src/components.ts';
export type {
  ComponentFactory,
  ComponentRegistry,
  RunContext,
  RunnableComponent,
} from './src/components.ts';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, reportError } from './src/report-error.ts';
export { DevMesh, type DevMeshOptions, type DevPorts } from './src/dev/dev-mesh.ts';
