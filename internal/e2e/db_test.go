package e2e

import (
	"database/sql"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

// openDB opens the node's database for reading (SQLite in read-only mode),
// alongside the running server.
func (n *node) openDB() *sql.DB {
	n.t.Helper()
	dsn := n.dsn()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		n.t.Fatalf("open %s: %v", dsn, err)
	}
	n.t.Cleanup(func() { db.Close() })
	return db
}

// folderCounts returns how many entries of folder of account login hold
// each Message-ID.
func (n *node) folderCounts(db *sql.DB, login, folder string) map[string]int {
	n.t.Helper()
	q := `SELECT m.message_id, COUNT(*) FROM entries e
		JOIN messages m ON m.id = e.message_id
		JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN accounts a ON a.id = b.account_id
		WHERE a.login = ? AND b.name = ?
		GROUP BY m.message_id`
	if !strings.HasPrefix(n.dsn(), "sqlite:") {
		q = strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)
	}
	rows, err := db.Query(q, login, folder)
	if err != nil {
		n.t.Fatalf("count %s of %s: %v", folder, login, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var c int
		if err := rows.Scan(&id, &c); err != nil {
			n.t.Fatalf("count %s of %s: %v", folder, login, err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		n.t.Fatalf("count %s of %s: %v", folder, login, err)
	}
	return out
}
