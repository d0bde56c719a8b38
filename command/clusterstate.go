package command

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/live"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/wire"
)

// The records a cluster's instances share (docs/decisions/0030): every
// committed store Update's keys of the kinds in watchedKinds go out on
// the Bus topic "records" (keys only, kind:id; the receivers read the
// rows), and an instance that hears them applies them on one worker
// goroutine, in batches (a burst of notices is one batch):
//
//   - kiosk:<id> → store.Changed → the ingest's KioskChanged: a kiosk
//     disabled, re-registered or deleted on A loses its open link on B
//     (closed with 1008, as on A);
//   - session:<h>, token:<h> → the live connections of that credential
//     whose credential no longer holds close with 4003 (logged out,
//     revoked, expired);
//   - user:<name> → that user's live connections close with 4003 when the
//     user is disabled or removed, and with 1001 (reconnect: the snapshot
//     is read again) those opened with another role, scope or team;
//   - rulebook:<v> → the rule book keeper reads the new versions, which
//     go to this instance's kiosks and browsers as if issued here;
//   - incident:<id> → every instance re-reads those incidents into its
//     engine's indexes (engine.Changed: which incident holds which
//     stall, which teams are busy) and publishes the incident and its
//     stall's state to its browsers;
//   - alarm:<seq> → the alarm goes to this instance's browsers.
//
// After a gap on the Bus (the listener reconnected) the worker does all
// of it for every record: every linked kiosk is checked again, every live
// credential, the rule books and the engine's indexes are read again.

// recordsTopic is the Bus topic of the store's committed keys.
const recordsTopic = "records"

// watchedKinds are the record kinds whose changes another instance acts
// on; other keys are not announced (the others read them from the
// database when they need them).
var watchedKinds = map[string]bool{"kiosk": true, "session": true, "token": true, "user": true,
	"rulebook": true, "incident": true, "alarm": true}

// recordsQueue holds the keys heard from other instances until the
// worker applies them.
type recordsQueue struct {
	mu   sync.Mutex
	keys map[string]bool
	all  bool // a gap: check everything
	wake chan struct{}
}

func (q *recordsQueue) add(keys []string, all bool) {
	q.mu.Lock()
	if q.keys == nil {
		q.keys = map[string]bool{}
	}
	for _, k := range keys {
		q.keys[k] = true
	}
	q.all = q.all || all
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *recordsQueue) take() (map[string]bool, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	keys, all := q.keys, q.all
	q.keys, q.all = nil, false
	return keys, all
}

// openRecords wires the store's change hooks to the Bus (cluster mode).
func (s *Service) openRecords() {
	s.records = &recordsQueue{wake: make(chan struct{}, 1)}
	s.store.OnChange(s.announceRecords)
	s.bus.Subscribe(recordsTopic, func(keys []string) { s.records.add(keys, false) })
	s.bus.OnGap(func() { s.records.add(nil, true) })
}

// announceRecords publishes the watched keys of a committed Update.
func (s *Service) announceRecords(keys []string) {
	var out []string
	for _, k := range keys {
		if kind, _, _ := strings.Cut(k, ":"); watchedKinds[kind] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.life, 2*time.Second)
	defer cancel()
	if err := s.bus.Publish(ctx, recordsTopic, out); err != nil {
		s.cfg.Log.Warn("cannot tell the other instances of changed records (they catch up when their listener reconnects)", "keys", len(out), "err", err)
	}
}

// applyRecords is the worker that applies what other instances changed,
// until ctx ends. Batches are at least recordsPace apart, so that a burst
// reloads the engine's indexes once, not once per notice.
func (s *Service) applyRecords(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.records.wake:
		}
		keys, all := s.records.take()
		s.applyBatch(keys, all)
		select {
		case <-ctx.Done():
			return
		case <-time.After(recordsPace):
		}
	}
}

// recordsPace is the least time between two batches of applyRecords.
const recordsPace = 200 * time.Millisecond

func (s *Service) applyBatch(keys map[string]bool, all bool) {
	byKind := map[string][]string{}
	for k := range keys {
		kind, id, _ := strings.Cut(k, ":")
		byKind[kind] = append(byKind[kind], id)
	}
	// Kiosks: their links are checked against the rows.
	var kiosks []string
	for _, id := range byKind["kiosk"] {
		kiosks = append(kiosks, "kiosk:"+id)
	}
	if all {
		for _, k := range s.ingest.KioskStates() {
			if k.Online {
				kiosks = append(kiosks, "kiosk:"+k.KioskID)
			}
		}
	}
	s.store.Changed(kiosks)

	// Credentials first (a password change ends sessions in the same
	// write as it changes the user), then users.
	if all {
		s.SweepLive()
	} else {
		ended := map[string]bool{}
		for _, kind := range []string{"session", "token"} {
			for _, h := range byKind[kind] {
				cred := kind + ":" + h
				if _, err := s.auth.Valid(cred); err != nil {
					ended[cred] = true
				}
			}
		}
		if len(ended) > 0 {
			s.hub.Disconnect(func(o live.Owner) bool { return ended[o.Cred] }, wire.CloseLoggedOut, "logged out or revoked on another instance")
		}
	}
	for _, name := range byKind["user"] {
		var u store.User
		if err := s.store.Get("user", name, &u); err != nil || u.Disabled {
			s.hub.Disconnect(func(o live.Owner) bool { return o.User == name }, wire.CloseLoggedOut, "user disabled")
			continue
		}
		grant := grantOf(u)
		s.hub.Disconnect(func(o live.Owner) bool { return o.User == name && o.Grant != grant }, wire.CloseGoingAway, "role or scope changed; reconnect")
	}

	if all || len(byKind["rulebook"]) > 0 {
		if _, err := s.books.Reload(); err != nil {
			s.cfg.Log.Warn("cannot read the rule books another instance issued; this instance's kiosks keep the older one until the next notice", "err", err)
		}
	}

	if all || len(byKind["incident"]) > 0 {
		// The engine's indexes (which incident holds which stall, which
		// teams are busy) follow the other instances' writes, on the
		// leader too: an incident closed through B's API frees its team
		// for A's dispatch. Changed re-reads only those incidents; after
		// a gap everything is read again (decision 0029).
		if all {
			if err := s.engine.Reload(); err != nil {
				s.cfg.Log.Warn("cannot reload the engine's indexes after another instance's incidents", "err", err)
			}
		} else {
			keys := make([]string, 0, len(byKind["incident"]))
			for _, id := range byKind["incident"] {
				keys = append(keys, "incident:"+id)
			}
			s.engine.Changed(keys)
		}
		for _, id := range byKind["incident"] {
			inc, err := s.engine.Incident(id)
			if err != nil {
				continue // deleted, or unreadable: the snapshot has the truth
			}
			s.publishFromEngine(wire.KindIncident, inc)
		}
	}
	for _, id := range byKind["alarm"] {
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			continue
		}
		if a, err := s.store.Alarm(seq); err == nil {
			s.hub.Publish(wire.KindAlert, a)
		}
	}
}
