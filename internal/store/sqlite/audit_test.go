package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/storetest"
)

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "tether.db"))
	})
}

// TestAuditQueriesUseIndexes checks the plans of the listings the API
// makes: each filter, with a time range and a page position, must be an
// index search that needs no sort, or the audit trail slows down as it grows.
func TestAuditQueriesUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	pos := "AND (time, id) < (1, 'x') ORDER BY time DESC, id DESC LIMIT 50"
	for _, where := range []string{
		"time >= 1 AND time < 2",
		"principal = 'p' AND time >= 1",
		"resource = 'r' AND time >= 1",
		"action IN ('a', 'b') AND time >= 1",
		"kind = 'api' AND outcome = 'denied' AND time >= 1",
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN SELECT id FROM audit_events WHERE "+where+" "+pos)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		t.Logf("%s: %s", where, p)
		if !strings.Contains(p, "USING INDEX") && !strings.Contains(p, "USING COVERING INDEX") {
			t.Errorf("%s: plan %q uses no index", where, p)
		}
		if strings.Contains(p, "TEMP B-TREE") && !strings.Contains(where, "IN (") {
			t.Errorf("%s: plan %q sorts", where, p)
		}
	}
}
