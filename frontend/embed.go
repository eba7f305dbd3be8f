// Package frontend embeds the built user interface (frontend/dist) so both
// the desktop window and `atoll serve` ship it inside the binary.
package frontend

import "embed"

// Dist holds the built files; a fresh clone has only dist/.gitkeep until
// `npm run build` runs, so Go code builds before the frontend does.
//
//go:embed all:dist
var Dist embed.FS
