// vite empties outDir on every build; the Go side embeds frontend/dist and a
// fresh clone must still `go build`, so the placeholder is put back here.
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('../dist/.gitkeep', import.meta.url), '');
