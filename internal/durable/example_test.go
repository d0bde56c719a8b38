package durable_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shianfood/shian/internal/durable"
	"github.com/tidwall/buntdb"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "durable")
	defer os.RemoveAll(dir)
	f, err := durable.Open(filepath.Join(dir, "queue.db"), durable.Options{
		Name:     "queue",
		Repaired: func(code, msg string) { fmt.Println("alarm", code, msg) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	err = f.DB.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set("result:1", `{"ok":true}`, nil)
		return err
	})
	if err == nil {
		// buntdb discards its own fsync error: only this one tells.
		err = f.Sync()
	}
	fmt.Println("saved:", err == nil)
	// Output: saved: true
}
