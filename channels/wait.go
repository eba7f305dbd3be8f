package channels

import (
	"errors"
	"time"
)

// Busy is an Answerer's error for a question it cannot start yet: its
// workspace already has as many answers running as its quota allows. The
// platform was acknowledged long ago, so nobody can be told "try again":
// the dispatcher tries the question again later, for up to
// Options.BusyWait, and then gives up as for Declined: it sends Text to
// the end user and records Err in the channel's status.
type Busy struct {
	Text string
	Err  error
}

func (b *Busy) Error() string { return b.Err.Error() }
func (b *Busy) Unwrap() error { return b.Err }

// Waiting for a slot backs off from busyFirst to busyMax between tries.
const (
	busyFirst = 100 * time.Millisecond
	busyMax   = 2 * time.Second
)

// waitBusy decides what a Busy answer becomes. A question still within
// its BusyWait is parked: it leaves its worker at once and a timer puts
// it back in the queue after a backoff, so a workspace at its streams
// quota never holds the shared pool (waiting inside a worker would let
// one busy workspace's messages occupy every worker and starve the other
// workspaces' channels on the hub). It returns true when parked; else
// err is the Declined to answer with now (the wait ran out, the
// dispatcher is closing, or too many questions are parked already: the
// parked ones count against the queue's bound, so memory stays bounded).
func (d *Dispatcher) waitBusy(j job, err error) (parked bool, _ error) {
	var b *Busy
	if !errors.As(err, &b) {
		return false, err
	}
	giveUp := &Declined{Text: b.Text, Err: b.Err}
	if j.since.IsZero() {
		j.since = d.opt.Now()
	}
	left := d.opt.BusyWait - d.opt.Now().Sub(j.since)
	if left <= 0 {
		return false, giveUp
	}
	if d.parked.Add(1) > int64(d.opt.Queue) {
		d.parked.Add(-1)
		return false, giveUp
	}
	wait := min(busyFirst<<min(j.tries, 8), busyMax, left)
	j.tries++
	// Closing drops it, as Close drops queued messages; a full queue
	// parks it again rather than lose it.
	var requeue func()
	requeue = func() {
		if d.enqueue(j) || d.isClosing() {
			d.parked.Add(-1)
			return
		}
		time.AfterFunc(busyMax, requeue)
	}
	time.AfterFunc(wait, requeue)
	return true, nil
}

func (d *Dispatcher) isClosing() bool {
	select {
	case <-d.closing:
		return true
	default:
		return false
	}
}
