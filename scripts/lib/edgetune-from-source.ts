/** The CLI run from the source tree (`node --import tsx scripts/lib/edgetune-from-source.ts ARGS`): no build needed. */
import { main } from '../../src/cli/main.js';

await main(process.argv.slice(2));
