#!/usr/bin/python3
"""A tiny X11 drag source for the window smoke test.

xdotool can move the pointer and press buttons but cannot speak XDND, the
protocol GTK and WebKit use for drops from other programs. This window is a
real GTK drag source offering one file as text/uri-list, like a file manager
does; the test drags from it with xdotool onto Atoll's window.

usage: dragsource.py FILE X Y   (window placed at X,Y; prints "ready" once
mapped, "begin" when the drag starts, "accepted" once the window under the
pointer has answered that it takes the drop and the pointer has held still
for two seconds, "sent URI" when the drop target
asks for the data, "drag-end" and quits when the drag ends, or quits after
five minutes)
"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

path, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uri = GLib.filename_to_uri(path, None)

win = Gtk.Window(title="atoll-drag-source")
win.set_decorated(False)
win.set_default_size(120, 60)
win.move(x, y)
box = Gtk.EventBox()
box.add(Gtk.Label(label="drag me"))
win.add(box)
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [Gtk.TargetEntry.new("text/uri-list", 0, 0)], Gdk.DragAction.COPY)


def on_get(_w, _ctx, data, _info, _time):
    data.set_uris([uri])
    print("sent", uri, flush=True)


def on_begin(w, ctx):
    print("begin", flush=True)
    pointer = w.get_display().get_default_seat().get_pointer()
    state = {"at": None, "since": 0}

    # GTK drops only when the window under the pointer has answered, in an
    # XDND status, that it takes the drop, which takes seconds on a busy
    # machine. "accepted" means: the drop is taken and the pointer has not
    # moved for two seconds, as a hand holds still before letting go. (The
    # window test does not wait for it yet: see drag() in window-smoke.sh.)
    def poll():
        at = pointer.get_position()[1:]
        now = GLib.get_monotonic_time()
        if at != state["at"]:
            state["at"], state["since"] = at, now
        if ctx.get_selected_action() and now - state["since"] >= 2_000_000:
            print("accepted", flush=True)
            return False
        return True

    GLib.timeout_add(50, poll)


def on_end(_w, _ctx):
    print("drag-end", flush=True)
    Gtk.main_quit()


box.connect("drag-begin", on_begin)
box.connect("drag-data-get", on_get)
box.connect("drag-end", on_end)
win.connect("destroy", Gtk.main_quit)
win.connect("map-event", lambda *_: print("ready", flush=True))
GLib.timeout_add_seconds(300, Gtk.main_quit)
win.show_all()
Gtk.main()
