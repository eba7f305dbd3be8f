// Files dropped anywhere but a drop zone must not reach the webview's default
// action: WebKit and Chromium both navigate to a dropped file, which replaces
// the whole interface with it. Wails' own handlers prevent that only while a
// screen listens for drops (OnFileDrop), and the window keeps WebKit's drop
// target because Wails' native file drop needs it (see main.go).

const DROP_PROPERTY = '--wails-drop-target';

// WebKitGTK lists a file dragged from another program as text/uri-list, not
// always as Files; both open the file when dropped.
function hasFiles(e: DragEvent): boolean {
  const types = [...(e.dataTransfer?.types ?? [])];
  return types.includes('Files') || types.includes('text/uri-list');
}

/** True when the element is inside a drop zone (the CSS property Wails reads). */
export function inDropZone(target: EventTarget | null): boolean {
  let el = target instanceof Element ? target : null;
  for (; el; el = el.parentElement) {
    if (el instanceof HTMLElement && el.style.getPropertyValue(DROP_PROPERTY).trim() === 'drop') return true;
  }
  return false;
}

/** Swallows file drops outside drop zones; returns a function that removes the guard. */
export function guardDrops(win: Window = window): () => void {
  // The drag is accepted everywhere and the drop swallowed: refusing it with
  // dropEffect 'none' is not enough, since WebKitGTK then falls back to its
  // own default for a dragged file, which is to open it (seen under Xvfb).
  const over = (e: DragEvent) => {
    if (hasFiles(e) && !inDropZone(e.target)) e.preventDefault();
  };
  const drop = (e: DragEvent) => {
    if (hasFiles(e)) e.preventDefault();
  };
  win.addEventListener('dragover', over);
  win.addEventListener('drop', drop);
  return () => {
    win.removeEventListener('dragover', over);
    win.removeEventListener('drop', drop);
  };
}
