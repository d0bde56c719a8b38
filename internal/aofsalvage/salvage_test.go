package aofsalvage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/buntdb"
)

// corpus is a real buntdb file of 50 records, written by buntdb itself,
// with updates and deletes after them, and the offsets of its commands.
type corpus struct {
	data []byte
	cmds []Command
}

// state applies every command except those in skip.
func (c *corpus) state(skip ...int) map[string]string {
	m := map[string]string{}
	for i, cmd := range c.cmds {
		if !contains(skip, i) {
			apply(m, cmd)
		}
	}
	return m
}

// prefix applies the commands that end at or before offset t.
func (c *corpus) prefix(t int) map[string]string {
	m := map[string]string{}
	for _, cmd := range c.cmds {
		if cmd.Offset+cmd.Len <= t {
			apply(m, cmd)
		}
	}
	return m
}

// at returns the index of the command holding byte x.
func (c *corpus) at(x int) int {
	for i, cmd := range c.cmds {
		if x >= cmd.Offset && x < cmd.Offset+cmd.Len {
			return i
		}
	}
	return -1
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func makeCorpus(t testing.TB) *corpus {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := buntdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetConfig(buntdb.Config{SyncPolicy: buntdb.Never, AutoShrinkDisabled: true})
	set := func(k, v string) {
		if err := db.Update(func(tx *buntdb.Tx) error { _, _, err := tx.Set(k, v, nil); return err }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 50; i++ {
		set(fmt.Sprintf("result:%020d", i), fmt.Sprintf(`{"result":{"seq":%d,"stall_id":"S-%03d","verdict":"negative"},"state":"pending"}`, i, i))
	}
	for i := 1; i <= 10; i++ {
		set(fmt.Sprintf("result:%020d", i), fmt.Sprintf(`{"result":{"seq":%d,"stall_id":"S-%03d","verdict":"negative"},"state":"acked"}`, i, i))
	}
	for i := 1; i <= 5; i++ {
		k := fmt.Sprintf("result:%020d", i)
		db.Update(func(tx *buntdb.Tx) error { _, err := tx.Delete(k); return err })
	}
	set("meta:boot_epoch", "3")
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &corpus{data: data}
	rep := Scan(data, func(cmd Command) { c.cmds = append(c.cmds, cmd) })
	if !rep.Clean() || len(c.cmds) != 66 {
		t.Fatalf("corpus: %s, %d commands", rep.String(), len(c.cmds))
	}
	return c
}

// scratch returns a directory for throwaway buntdb files: on tmpfs when
// there is one (buntdb fsyncs on Close, which is slow on a real disk and
// proves nothing here), else the test's temporary directory.
func scratch(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "aofsalvage-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// buntdbState opens data with buntdb and returns every key and value.
func buntdbState(t testing.TB, data []byte) (map[string]string, error) {
	t.Helper()
	path := filepath.Join(scratch(t), "b.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := buntdb.Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	m := map[string]string{}
	db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool { m[k] = v; return true })
	})
	return m, nil
}

func asMap(recs []Record) map[string]string {
	m := make(map[string]string, len(recs))
	for _, r := range recs {
		m[r.Key] = r.Value
	}
	return m
}

func diff(got, want map[string]string) string {
	var b strings.Builder
	for k, v := range want {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "missing %s; ", k)
		} else if g != v {
			fmt.Fprintf(&b, "%s differs; ", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "extra %s; ", k)
		}
	}
	return b.String()
}

// TestTruncatedEverywhere is docs/reliability.md test 9(a): the file cut at every
// byte offset holds exactly the records of the complete commands before
// the cut, and buntdb agrees.
func TestTruncatedEverywhere(t *testing.T) {
	c := makeCorpus(t)
	for cut := 0; cut <= len(c.data); cut++ {
		recs, rep := Salvage(c.data[:cut])
		want := c.prefix(cut)
		if rep.Damaged() || rep.Misaligned() {
			t.Fatalf("cut at %d: %s", cut, rep.String())
		}
		boundary := c.at(cut) < 0 || c.cmds[c.at(cut)].Offset == cut
		if rep.TornTail == boundary {
			t.Fatalf("cut at %d: torn=%v at a command boundary=%v", cut, rep.TornTail, boundary)
		}
		if d := diff(asMap(recs), want); d != "" {
			t.Fatalf("cut at %d: %s", cut, d)
		}
		// buntdb reads what we keep, and (for the intact lengths of real
		// commands) truncates to the same place on its own.
		if cut%7 == 0 || !boundary && cut%3 == 0 {
			got, err := buntdbState(t, c.data[:cut])
			if err != nil {
				t.Fatalf("cut at %d: buntdb: %v", cut, err)
			}
			if d := diff(got, want); d != "" {
				t.Fatalf("cut at %d: buntdb %s", cut, d)
			}
		}
	}
}

// TestNULPadding is docs/reliability.md test 9(b).
func TestNULPadding(t *testing.T) {
	c := makeCorpus(t)
	nul := make([]byte, 4096)
	for name, data := range map[string][]byte{
		"head": append(append([]byte{}, nul...), c.data...),
		"tail": append(append([]byte{}, c.data...), nul...),
		"both": append(append(append([]byte{}, nul...), c.data...), nul...),
		"mid":  append(append(append([]byte{}, c.data[:c.cmds[30].Offset]...), nul[:7]...), c.data[c.cmds[30].Offset:]...),
	} {
		recs, rep := Salvage(data)
		if rep.Damaged() || rep.TornTail || !rep.Misaligned() {
			t.Errorf("%s: %s", name, rep.String())
		}
		if d := diff(asMap(recs), c.state()); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		checkPrepare(t, name, data, Rewritten, c.state())
	}
}

// TestGarbageEverywhere is docs/reliability.md test 9(c): one garbage byte
// written over, or inserted at, every offset. The reader never panics;
// either the file still parses (the byte landed inside a value, which only
// a checksum could catch: the record layer checks its JSON), or every
// command but the damaged one is recovered.
func TestGarbageEverywhere(t *testing.T) {
	c := makeCorpus(t)
	junk := []byte{'X', '*', '\n', '\r', '$', '9', 0, 0xff, '3'}
	for x := 0; x < len(c.data); x++ {
		for _, insert := range []bool{false, true} {
			g := junk[(x+btoi(insert))%len(junk)]
			var data []byte
			if insert {
				data = append(append(append([]byte{}, c.data[:x]...), g), c.data[x:]...)
			} else {
				if c.data[x] == g {
					continue
				}
				data = append([]byte{}, c.data...)
				data[x] = g
			}
			j := c.at(x)
			recs, rep := Salvage(data)
			got := asMap(recs)
			switch {
			case rep.Damaged() || rep.TornTail:
				// A byte inserted just before command j leaves j whole.
				if d := diff(got, c.state(j)); d != "" && diff(got, c.state()) != "" {
					t.Fatalf("garbage %q at %d (insert %v) in command %d: %s; %s", g, x, insert, j, rep.String(), d)
				}
			default:
				// Still well formed (the byte landed inside a key or value,
				// which only a checksum could catch; the record layer checks
				// its JSON): every command but j reads as written.
				var cmds []Command
				Scan(data, func(cmd Command) { cmds = append(cmds, cmd) })
				if len(cmds) != len(c.cmds) {
					t.Fatalf("garbage %q at %d (insert %v): clean (%s) with %d commands", g, x, insert, rep.String(), len(cmds))
				}
				for i := range cmds {
					w := c.cmds[i]
					if i != j && (cmds[i].Op != w.Op || cmds[i].Key != w.Key || cmds[i].Value != w.Value) {
						t.Fatalf("garbage %q at %d (insert %v): command %d changed", g, x, insert, i)
					}
				}
				if !rep.Misaligned() && x%5 == 0 {
					bs, err := buntdbState(t, data)
					if err != nil {
						t.Fatalf("garbage %q at %d: we read it, buntdb does not: %v", g, x, err)
					}
					if d := diff(bs, got); d != "" {
						t.Fatalf("garbage %q at %d: buntdb reads it differently: %s", g, x, d)
					}
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestInterleaved is docs/reliability.md test 9(d): two writers' commands mixed.
func TestInterleaved(t *testing.T) {
	c := makeCorpus(t)
	for j := 0; j+1 < len(c.cmds); j += 5 {
		a, b := c.cmds[j], c.cmds[j+1]
		ab := c.data[a.Offset : b.Offset+b.Len]
		first, second := c.data[a.Offset:a.Offset+a.Len], c.data[b.Offset:b.Offset+b.Len]
		// Half of one command, the other whole, the rest of the first.
		mid := append(append(append([]byte{}, first[:len(first)/2]...), second...), first[len(first)/2:]...)
		// Byte by byte.
		var alt []byte
		for i := 0; i < max(len(first), len(second)); i++ {
			if i < len(first) {
				alt = append(alt, first[i])
			}
			if i < len(second) {
				alt = append(alt, second[i])
			}
		}
		for name, tc := range map[string]struct {
			mixed []byte
			lost  []int
		}{"split": {mid, []int{j}}, "bytewise": {alt, []int{j, j + 1}}} {
			if len(tc.mixed) != len(ab) {
				t.Fatal("length")
			}
			data := append(append(append([]byte{}, c.data[:a.Offset]...), tc.mixed...), c.data[b.Offset+b.Len:]...)
			recs, rep := Salvage(data)
			if !rep.Damaged() || rep.FirstDamage() != a.Offset {
				t.Fatalf("%s %d: %s", name, j, rep.String())
			}
			if d := diff(asMap(recs), c.state(tc.lost...)); d != "" {
				t.Fatalf("%s %d: %s", name, j, d)
			}
			if _, err := buntdbState(t, data); err == nil {
				t.Fatalf("%s %d: buntdb opened an interleaved file", name, j)
			}
			if j == 10 {
				checkPrepare(t, name, data, Salvaged, c.state(tc.lost...))
			}
		}
	}
}

// checkPrepare runs Prepare on data and checks the outcome, the file left
// behind (buntdb opens it with the wanted records and keeps working) and
// the copy kept aside.
func checkPrepare(t *testing.T, name string, data []byte, act Action, want map[string]string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Prepare(path, time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("%s: Prepare: %v", name, err)
	}
	if out.Action != act {
		t.Fatalf("%s: action %v, want %v (%s)", name, out.Action, act, out.Report.String())
	}
	kept, err := os.ReadFile(out.Aside)
	if err != nil {
		t.Fatalf("%s: aside: %v", name, err)
	}
	if act == Truncated {
		if !bytes.Equal(kept, data[out.Report.Intact:]) {
			t.Fatalf("%s: the torn tail was not kept", name)
		}
	} else if !bytes.Equal(kept, data) {
		t.Fatalf("%s: the original was not kept byte for byte", name)
	}
	if !strings.Contains(out.Message(path), filepath.Base(out.Aside)) {
		t.Errorf("%s: message does not name the kept file: %s", name, out.Message(path))
	}
	// buntdb opens the prepared file, takes a write, and opens again.
	for round := 0; round < 2; round++ {
		db, err := buntdb.Open(path)
		if err != nil {
			t.Fatalf("%s: round %d: buntdb: %v", name, round, err)
		}
		m := map[string]string{}
		db.View(func(tx *buntdb.Tx) error {
			return tx.Ascend("", func(k, v string) bool { m[k] = v; return true })
		})
		delete(m, "after:prepare")
		if d := diff(m, want); d != "" {
			t.Fatalf("%s: round %d: %s", name, round, d)
		}
		db.Update(func(tx *buntdb.Tx) error { _, _, err := tx.Set("after:prepare", "x", nil); return err })
		db.Close()
	}
	// A second Prepare finds a clean file.
	again, err := Prepare(path, time.Now())
	if err != nil || again.Action != None {
		t.Fatalf("%s: second Prepare: %v %v", name, again.Action, err)
	}
}

func TestPrepareTornTail(t *testing.T) {
	c := makeCorpus(t)
	cut := c.cmds[40].Offset + 9
	checkPrepare(t, "torn", c.data[:cut], Truncated, c.prefix(cut))
}

func TestPrepareMissingAndClean(t *testing.T) {
	dir := t.TempDir()
	out, err := Prepare(filepath.Join(dir, "none.db"), time.Now())
	if err != nil || out.Action != None {
		t.Fatalf("missing file: %v %v", out.Action, err)
	}
	c := makeCorpus(t)
	path := filepath.Join(dir, "c.db")
	os.WriteFile(path, c.data, 0o644)
	out, err = Prepare(path, time.Now())
	if err != nil || out.Action != None || out.Aside != "" {
		t.Fatalf("clean file: %+v %v", out, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, c.data) {
		t.Fatal("a clean file was changed")
	}
}

// TestBuntdbMisalignment documents the buntdb v1.3.0 behaviour Prepare
// exists for: NUL bytes before the records make buntdb's next write land
// early, over the end of the last record, and the file no longer opens.
// If this test starts failing, buntdb fixed it; Prepare stays harmless.
func TestBuntdbMisalignment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	data := append(make([]byte, 10), AppendSet(nil, "a", "1111")...)
	os.WriteFile(path, data, 0o644)
	db, err := buntdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *buntdb.Tx) error { _, _, err := tx.Set("b", "2222", nil); return err })
	db.Close()
	if _, err := buntdb.Open(path); err == nil {
		t.Skip("buntdb no longer miscounts NUL bytes")
	}
	// With Prepare first, the same sequence works.
	os.WriteFile(path, data, 0o644)
	if out, err := Prepare(path, time.Now()); err != nil || out.Action != Rewritten {
		t.Fatalf("Prepare: %v %v", out.Action, err)
	}
	db, err = buntdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *buntdb.Tx) error { _, _, err := tx.Set("b", "2222", nil); return err })
	db.Close()
	got, err := buntdbState(t, mustRead(t, path))
	if err != nil || got["a"] != "1111" || got["b"] != "2222" {
		t.Fatalf("after Prepare: %v %v", got, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzAOFSalvage: no panic on any input; what we call clean buntdb reads
// the same way; what we salvage re-encodes to a clean file with the same
// records.
func FuzzAOFSalvage(f *testing.F) {
	c := makeCorpus(f)
	f.Add(c.data)
	f.Add(c.data[:len(c.data)/2])
	f.Add(append(make([]byte, 5), c.data[:300]...))
	f.Add([]byte("*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n$1\r\ns\r\n"))
	f.Add([]byte("*0\r\n*2\r\n$3\r\ndel\r\n$1\r\na\r\n*1\r\n$7\r\nflushdb\r\n"))
	f.Add([]byte("*3\r\n$3\r\nset\r\n$9999999999\r\nab"))
	f.Add([]byte("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nae\r\n$10\r\n4102444800\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, rep := Salvage(data)
		if rep.Intact > rep.Size || rep.Keys != len(recs) || (rep.Clean() && rep.Intact != rep.Size) {
			t.Fatalf("inconsistent report %+v", rep)
		}
		got := asMap(recs)
		if rep.Clean() || (!rep.Damaged() && !rep.Misaligned()) {
			bs, err := buntdbState(t, data[:rep.Intact])
			if err != nil {
				t.Fatalf("we call it readable (%s), buntdb says %v", rep.String(), err)
			}
			// buntdb drops items whose expiry passed; we keep them.
			for k := range got {
				if _, ok := bs[k]; !ok {
					delete(got, k)
				}
			}
			if d := diff(bs, got); d != "" {
				t.Fatalf("buntdb reads it differently: %s", d)
			}
		}
		again, rep2 := Salvage(Encode(recs))
		if !rep2.Clean() || len(again) != len(recs) {
			t.Fatalf("re-encoded salvage is not clean: %s", rep2.String())
		}
		for i := range again {
			if again[i] != recs[i] {
				t.Fatalf("round trip changed record %d", i)
			}
		}
	})
}

func TestCompact(t *testing.T) {
	c := makeCorpus(t)
	path := filepath.Join(t.TempDir(), "c.db")
	// The corpus rewrites 10 records and deletes 5: not twice its records.
	os.WriteFile(path, c.data, 0o644)
	if out, err := PrepareWith(path, time.Now(), Options{CompactOver: 1}); err != nil || out.Action != None {
		t.Fatalf("%v %v", out.Action, err)
	}
	// The same records set five times over are.
	var big []byte
	for i := 0; i < 5; i++ {
		big = append(big, c.data...)
	}
	os.WriteFile(path, big, 0o644)
	out, err := PrepareWith(path, time.Now(), Options{CompactOver: 1})
	if err != nil || out.Action != Compacted {
		t.Fatalf("%v %v", out.Action, err)
	}
	got, err := buntdbState(t, mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, c.state()); d != "" {
		t.Fatal(d)
	}
	if fi, _ := os.Stat(path); fi.Size() >= int64(len(c.data)) {
		t.Fatalf("compacted to %d bytes", fi.Size())
	}
}
