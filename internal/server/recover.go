package server

import (
	"context"
	"time"

	"github.com/tetherhq/tether/internal/session"
)

// endOrphanedSessions ends the sessions a previous run left live: the
// server stopped without ending them (a crash, SIGKILL, power loss), so
// their data channels are gone. Their agents noticed and ended the shells;
// the transcripts arrive when the agents reconnect. One server owns every
// session until scale-out (DESIGN D10) gives sessions leases.
func (s *Server) endOrphanedSessions(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	live, err := s.Sessions.Live(ctx)
	if err != nil {
		s.log.Error("list sessions left live by the previous run", "err", err)
		return
	}
	for _, sess := range live {
		if err := s.Sessions.End(ctx, sess.ID, session.StatusTerminated, "the server restarted; the session's connections were lost", nil); err != nil {
			s.log.Error("end a session left live by the previous run", "session_id", sess.ID, "err", err)
			continue
		}
		s.log.Warn("ended a session left live by the previous run", "session_id", sess.ID, "instance_id", sess.Target)
	}
}
