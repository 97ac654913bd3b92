/** `npm run conformance`: certify an XKS proxy against the spec (see conformance/README.md). */
import { cliMain } from './src/cli-main.ts';

process.exitCode = await cliMain(process.argv.slice(2));
