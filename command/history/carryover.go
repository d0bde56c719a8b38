package history

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/shianfood/shian/protocols/wire"
)

// Legacy is where an earlier version kept its results: command.db's
// result:<id> keys (command/store).
type Legacy interface {
	LegacyCount() int
	// LegacyResults returns up to n results in key order after the id
	// after ("" for the first): their ids and stored JSON.
	LegacyResults(after string, n int) (ids, raws []string, err error)
	// DropLegacyResults deletes results, durably.
	DropLegacyResults(ids []string) error
}

// CarryOptions configures CarryOver.
type CarryOptions struct {
	Chunk int // results per step (default 1000)
	Log   *slog.Logger
	// Step is a test seam, called after each durable step — phase
	// "imported" (a chunk is in the history) or "dropped" (and gone from
	// the old file) — with the results carried so far; an error stops
	// the carry-over there, as a kill would.
	Step func(phase string, done int) error
}

// CarryReport says what CarryOver did.
type CarryReport struct {
	Carried    int      // results now in the history and gone from the old file
	Renumbered int      // carried under a new rx_seq (theirs was taken)
	Unreadable []string // ids whose stored JSON does not decode: left in the old file
	Conflicts  []string // ids the history holds with other content: left in the old file
}

// CarryOver moves every result of an earlier version's data directory
// into the history, once, without loss, and resumably: each chunk is
// imported in one durable transaction (keeping its rx_seq, received_at
// and flags) and only then deleted from the old file, in one durable
// write. Killed at any point, the next CarryOver imports again what was
// not deleted yet — Import recognises what it already holds — and goes
// on. Results that cannot be read, or that conflict with what the history
// holds, are left where they are and reported.
func CarryOver(src Legacy, h History, o CarryOptions) (CarryReport, error) {
	var rep CarryReport
	if o.Chunk <= 0 {
		o.Chunk = 1000
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	total := src.LegacyCount()
	if total == 0 {
		return rep, nil
	}
	o.Log.Info("history: carrying the results of an earlier version into the history", "results", total)
	after := ""
	for {
		ids, raws, err := src.LegacyResults(after, o.Chunk)
		if err != nil {
			return rep, fmt.Errorf("history: read the earlier version's results: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		var rs []wire.Result
		keep := map[string]bool{}
		for i, raw := range raws {
			var r wire.Result
			if err := json.Unmarshal([]byte(raw), &r); err != nil || r.ResultID != ids[i] {
				rep.Unreadable = append(rep.Unreadable, ids[i])
				keep[ids[i]] = true
				continue
			}
			rs = append(rs, r)
		}
		ir, err := h.Import(rs)
		if err != nil {
			return rep, fmt.Errorf("history: carry %d results over: %w", len(rs), err)
		}
		rep.Renumbered += ir.Renumbered
		for _, id := range ir.Conflicts {
			rep.Conflicts = append(rep.Conflicts, id)
			keep[id] = true
		}
		if o.Step != nil {
			if err := o.Step("imported", rep.Carried+len(rs)-len(ir.Conflicts)); err != nil {
				return rep, err
			}
		}
		var drop []string
		for _, id := range ids {
			if !keep[id] {
				drop = append(drop, id)
			}
		}
		if err := src.DropLegacyResults(drop); err != nil {
			return rep, fmt.Errorf("history: remove carried-over results from the old file: %w", err)
		}
		rep.Carried += len(drop)
		if o.Step != nil {
			if err := o.Step("dropped", rep.Carried); err != nil {
				return rep, err
			}
		}
	}
	o.Log.Info("history: results carried over", "carried", rep.Carried, "renumbered", rep.Renumbered,
		"unreadable", len(rep.Unreadable), "conflicts", len(rep.Conflicts))
	return rep, nil
}
