package history_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/history/historytest"
	"github.com/shianfood/shian/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// sqliteBackend is a fresh SQLite file.
func sqliteBackend(t *testing.T) historytest.Backend {
	path := filepath.Join(t.TempDir(), "history.db")
	exec := func(q string, args ...any) error {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.Exec(q, args...)
		return err
	}
	return historytest.Backend{
		Open: func(o history.Options) (history.History, error) { return history.Open("sqlite:"+path, o) },
		Exec: exec,
		FlipKiosk: func(rx uint64) error {
			return exec(`UPDATE results SET body = CAST(replace(CAST(body AS TEXT), '"kiosk_id"', '"fiosk_id"') AS BLOB) WHERE rx_seq = ?`, rx)
		},
	}
}

func TestSQLite(t *testing.T) { historytest.Run(t, sqliteBackend) }
