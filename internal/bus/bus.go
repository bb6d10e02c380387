// Package bus defines how tetherd replicas route messages by subject:
// data-channel frames by session, control messages by instance. The
// in-process implementation is bus/mem; NATS will satisfy the same contract.
//
// Delivery semantics (every implementation): a message reaches the
// subscribers present when it is published, in publish order per publisher;
// a message to a subject with no subscriber is dropped. Dropping is safe for
// data-channel frames because both endpoints retransmit what is not
// acknowledged. Server-side packages only; the agent never imports bus.
package bus

import "context"

// Bus publishes and subscribes to subjects.
type Bus interface {
	// Publish delivers data to the subject's current subscribers. It may
	// block while a subscriber's buffer is full (backpressure) until ctx ends.
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe returns a subscription receiving the subject's messages.
	Subscribe(ctx context.Context, subject string) (Subscription, error)
}

// Subscription receives messages until Close.
type Subscription interface {
	// C delivers messages; it is closed after Close.
	C() <-chan []byte
	Close() error
}

// Subjects used by the server.

// SessionToAgent carries frames from a session's client to its agent.
func SessionToAgent(sessionID string) string { return "session." + sessionID + ".agent" }

// SessionToClient carries frames from a session's agent to its client.
func SessionToClient(sessionID string) string { return "session." + sessionID + ".client" }

// InstanceControl carries control messages to an instance's agent.
func InstanceControl(instanceID string) string { return "instance." + instanceID + ".control" }

// SessionEvents carries lifecycle notices about a session between replicas.
func SessionEvents(sessionID string) string { return "session." + sessionID + ".events" }
