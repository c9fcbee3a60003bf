// tsc cannot emit a package.json: this one makes Node (and TypeScript) read dist/cjs/*.js and *.d.ts as
// CommonJS although the package itself is "type": "module".
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
