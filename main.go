//go:build desktop

// The desktop window: Wails v2 around the same app.App the browser mode
// serves. Built by `make build` (wails build adds the desktop tag); the
// headless command line lives in cmd/atoll and needs no cgo.
package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	goruntime "runtime"
	"strings"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"atoll/app"
	"atoll/frontend"
)

// version and commit are set by the build (-ldflags "-X main.version=...
// -X main.commit=..."), the same pair in every artefact of a release.
var (
	version = "0.1.0-dev"
	commit  = ""
)

// The window's and taskbar's icon on Linux (Windows and macOS take theirs
// from build/windows/icon.ico and the .app bundle). 128 px: GDK drops a
// window icon larger than one X request, and 1024 px is (no _NET_WM_ICON).
//
//go:embed build/linux/icons/hicolor/128x128/apps/atoll.png
var icon []byte

// windowBridge holds the Wails context, the only one its runtime accepts,
// and gives the app its emitter and dialogs through small interfaces.
type windowBridge struct{ ctx context.Context }

func (w *windowBridge) Emit(name string, payload any) {
	if w.ctx != nil {
		runtime.EventsEmit(w.ctx, name, payload)
	}
}

func (w *windowBridge) OpenFiles() ([]string, error) {
	return runtime.OpenMultipleFilesDialog(w.ctx, runtime.OpenDialogOptions{
		Title: "Add documents",
		Filters: []runtime.FileFilter{
			{DisplayName: "Documents (*.pdf;*.docx;*.html;*.md;*.txt;*.csv)", Pattern: "*.pdf;*.docx;*.html;*.htm;*.md;*.markdown;*.txt;*.csv"},
			{DisplayName: "All files", Pattern: "*"},
		},
	})
}

func (w *windowBridge) OpenFolder() (string, error) {
	return runtime.OpenDirectoryDialog(w.ctx, runtime.OpenDialogOptions{Title: "Add a folder"})
}

var (
	_ app.Emitter = (*windowBridge)(nil)
	_ app.Dialogs = (*windowBridge)(nil)
)

// noDisplay is what the window says where it cannot open: one sentence,
// pointing to the browser mode.
const noDisplay = "Atoll's window needs a graphical display, and %s; run `atoll serve` instead and open the address it prints in a browser."

func main() {
	// GTK (Linux, BSD) needs an X11 or Wayland display; without one Wails
	// panics in gtk_init with a Go stack. Checked before anything is opened.
	if goruntime.GOOS != "darwin" && goruntime.GOOS != "windows" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintf(os.Stderr, noDisplay+"\n", "none is set here (DISPLAY and WAYLAND_DISPLAY are empty)")
		os.Exit(1)
	}
	v := version
	if commit != "" {
		v += " (" + commit + ")"
	}
	cfg := app.Config{DataDir: app.DefaultDataDir(), OllamaURL: app.DefaultOllamaURL(), Version: v}
	bridge := &windowBridge{}
	a, err := app.New(cfg, bridge, bridge)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Atoll could not start:", err)
		os.Exit(1)
	}
	ui, err := fs.Sub(frontend.Dist, "dist")
	if err != nil {
		panic(err)
	}
	id := sha256.Sum256([]byte(cfg.DataDir))
	err = runWindow(&options.App{
		Title:       "Atoll",
		Width:       1280,
		Height:      820,
		MinWidth:    900,
		MinHeight:   600,
		AssetServer: &assetserver.Options{Assets: ui},
		OnStartup:   func(ctx context.Context) { bridge.ctx = ctx },
		OnShutdown:  func(context.Context) { a.Close() },
		Bind:        []any{a},
		// Wails v2.9 on Linux: DisableWebViewDrop unsets the webview as a GTK
		// drop target, and its own file-drop handlers hang on that target, so
		// with it no drop arrives at all (wailsapp/wails#3563). The frontend
		// refuses drops outside the drop zone instead (lib/dropguard.ts), so
		// WebKit never navigates to a dropped file.
		DragAndDrop: &options.DragAndDrop{EnableFileDrop: true},
		// Two windows on one data folder would race on the same files.
		// Starting Atoll again brings this window to the front instead.
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId: "atoll-" + hex.EncodeToString(id[:8]),
			OnSecondInstanceLaunch: func(options.SecondInstanceData) {
				fmt.Fprintln(os.Stderr, "Atoll was started again: showing this window instead.")
				if bridge.ctx != nil {
					runtime.WindowUnminimise(bridge.ctx)
					runtime.WindowShow(bridge.ctx)
				}
			},
		},
		// ProgramName is the window's WM_CLASS: the .desktop file's
		// StartupWMClass matches it, so the dock groups the window under
		// the menu entry's icon.
		Linux:          &linux.Options{Icon: icon, ProgramName: "atoll-desktop"},
		ErrorFormatter: func(err error) any { return err.Error() },
	})
	if errors.Is(err, errNoGTK) {
		a.Close()
		where := "the display in DISPLAY/WAYLAND_DISPLAY could not be opened"
		if d := os.Getenv("DISPLAY"); d != "" {
			where = fmt.Sprintf("the display %q could not be opened", d)
		} else if d := os.Getenv("WAYLAND_DISPLAY"); d != "" {
			where = fmt.Sprintf("the Wayland display %q could not be opened", d)
		}
		fmt.Fprintf(os.Stderr, noDisplay+"\n", where)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Atoll's window failed:", err)
		os.Exit(1)
	}
}

var errNoGTK = errors.New("GTK could not start")

// runWindow is wails.Run with its GTK start-up panic (a display that is set
// but cannot be opened) turned into errNoGTK; other panics stay panics.
func runWindow(o *options.App) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && strings.Contains(e.Error(), "failed to init GTK") {
				err = errNoGTK
				return
			}
			panic(r)
		}
	}()
	return wails.Run(o)
}
