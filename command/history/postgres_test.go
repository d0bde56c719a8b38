package history_test

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/history/historytest"
	"github.com/shianfood/shian/internal/pgtest"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for Exec
)

// postgresBackend is a fresh database on the test binary's PostgreSQL.
func postgresBackend(t *testing.T) historytest.Backend {
	dsn := pgtest.DSN(t)
	exec := func(q string, args ...any) error {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.Exec(numbered(q), args...)
		return err
	}
	return historytest.Backend{
		Open: func(o history.Options) (history.History, error) { return history.Open(dsn, o) },
		Exec: exec,
		FlipKiosk: func(rx uint64) error {
			return exec(`UPDATE results SET body = convert_to(replace(convert_from(body, 'UTF8'), '"kiosk_id"', '"fiosk_id"'), 'UTF8') WHERE rx_seq = ?`, int64(rx))
		},
	}
}

func numbered(q string) string {
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	return q
}

func TestPostgres(t *testing.T) { historytest.Run(t, postgresBackend) }
