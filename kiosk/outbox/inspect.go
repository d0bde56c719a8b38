package outbox

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/shianfood/shian/internal/aofsalvage"
)

// Inspection is what [Inspect] read from an outbox file without opening
// it: the records, their counts, and the state of the file.
type Inspection struct {
	Path string
	// File describes the file as buntdb would read it (clean, torn
	// tail, damaged; see internal/aofsalvage).
	File aofsalvage.Report
	// Records are the readable records in seq order; Unreadable counts
	// result keys whose value does not decode.
	Records    []Record
	Unreadable int
	// Stats counts the records by state, as Outbox.Stats would.
	Stats Stats
}

// Inspect reads the outbox file in dir read-only, with the salvage reader
// the kiosk uses at open, so it works while a kiosk holds the file open
// (a torn tail then is the write in progress) and on a damaged file. It
// changes nothing: `shian-kiosk doctor` checks the outbox's health with
// it and `shian-kiosk export` copies the records out for support.
func Inspect(dir string) (Inspection, error) {
	in := Inspection{Path: dir + string(os.PathSeparator) + "outbox.db"}
	data, err := os.ReadFile(in.Path)
	if os.IsNotExist(err) {
		return in, err
	}
	if err != nil {
		return in, fmt.Errorf("outbox: read %s: %w", in.Path, err)
	}
	recs, rep := aofsalvage.Salvage(data)
	in.File = rep
	for _, kv := range recs {
		if !strings.HasPrefix(kv.Key, resultPrefix) {
			continue
		}
		var rec Record
		if err := json.Unmarshal([]byte(kv.Value), &rec); err != nil || !rec.whole() {
			in.Unreadable++
			continue
		}
		in.Records = append(in.Records, rec)
	}
	sort.Slice(in.Records, func(i, j int) bool { return in.Records[i].Result.Seq < in.Records[j].Result.Seq })
	for _, rec := range in.Records {
		switch rec.State {
		case StatePending:
			in.Stats.Pending++
			if t := rec.SavedAt; in.Stats.OldestPending == nil || t.Before(*in.Stats.OldestPending) {
				in.Stats.OldestPending = &t
			}
		case StateRejected:
			in.Stats.Rejected++
		}
		if rec.Result.Seq > in.Stats.LastSeq {
			in.Stats.LastSeq = rec.Result.Seq
		}
		if rec.AckedAt != nil && (in.Stats.LastAck == nil || rec.AckedAt.After(*in.Stats.LastAck)) {
			t := *rec.AckedAt
			in.Stats.LastAck = &t
		}
	}
	in.Stats.Damaged = in.Unreadable
	return in, nil
}
