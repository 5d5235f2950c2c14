#!/usr/bin/env node
// The `causeway` executable: register tsx, then run the TypeScript entry point.
//
// Why no build step: Causeway ships its TypeScript sources and runs them through tsx's
// ESM loader, so there is one artefact to test and debug (stack traces point at the .ts
// files operators can read in the package), no dist/ that can drift from src/, and
// nothing to compile in the container or on a VM before `causeway run zone`. The price is
// tsx as a runtime dependency and an esbuild transform on first load (cached on disk
// afterwards), which is small next to a control plane's lifetime. Type checking stays a
// separate step (`npm run typecheck`), since tsx strips types without checking them.
// module.register(), which tsx uses here, needs Node >= 20.6 (package.json asks >= 20.19).
import { register } from 'tsx/esm/api';

register();
await import('../main.ts');
