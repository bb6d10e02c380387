package datachannel

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Transport carries whole frames, one binary websocket message each.
//
// ReadMessage returns the next frame, which the caller then owns (Stream
// keeps it: payloads returned by Recv alias it). It must return promptly
// once ctx is cancelled.
//
// WriteMessage sends one frame. It must not keep b after returning. Stream
// calls it from one goroutine at a time, possibly concurrently with
// ReadMessage.
type Transport interface {
	ReadMessage(ctx context.Context) ([]byte, error)
	WriteMessage(ctx context.Context, b []byte) error
}

// FrameRecycler may be implemented by a Transport whose ReadMessage reuses
// buffers. Stream hands back, through RecycleFrame, frames it read from
// that transport and no longer references (acks, duplicates, dropped
// messages, and payloads a Conn has consumed). Frames whose payload was
// returned by Recv or given to OnControl are never handed back.
type FrameRecycler interface {
	RecycleFrame(b []byte)
}

// BatchWriter may be implemented by a Transport that can send several
// frames at once (one system call, one wake-up of the peer). Stream uses it
// for acks, and for acks together with a message. The same rules as for
// WriteMessage apply.
type BatchWriter interface {
	WriteMessages(ctx context.Context, frames [][]byte) error
}

// Role says which end of the data channel a Stream is.
type Role int

const (
	// RoleClient sends input_stream_data and receives output_stream_data.
	RoleClient Role = iota
	// RoleAgent sends output_stream_data and receives input_stream_data.
	RoleAgent
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleAgent:
		return "agent"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Config configures a Stream. A zero field means its default.
type Config struct {
	Role Role
	// MaxPayload is the chunk size for Send and Write; default 32 KiB, at
	// most MaxMessagePayload.
	MaxPayload int
	// MaxUnackedBytes is the send window in payload bytes; default 4 MiB.
	// Send blocks while it is full. The window also never spans more than
	// 10 000 sequence numbers, the out-of-order buffer of the official
	// plugin, so a compliant peer never has to drop what we send.
	MaxUnackedBytes int
	// MaxBufferedBytes bounds what was received but not yet consumed by
	// Recv, counted as whole frames; default 8 MiB. A stream message that
	// would exceed it is dropped without an ack (the peer retransmits it),
	// so the reader never blocks. Out-of-order messages may use only half
	// of it: they cannot be consumed until the gap before them is filled,
	// and acked ones cannot be evicted, so in-order messages must always
	// find room. When the Recv queue is empty the next in-order message is
	// accepted even if that exceeds the bound by one frame, so that a small
	// bound cannot stall the stream.
	MaxBufferedBytes int
	// OnControl is called from the reader goroutine for every message that
	// is neither the peer's stream type nor an acknowledge: channel_closed,
	// agent_session_state, start/pause_publication, ... It must not block.
	// The message's Payload aliases the received frame and is the
	// callee's to keep.
	OnControl func(Message)
	// Logger receives debug diagnostics; default: discard.
	Logger *slog.Logger
}

const (
	defaultMaxPayload       = 32 << 10
	defaultMaxUnackedBytes  = 4 << 20
	defaultMaxBufferedBytes = 8 << 20

	// maxInFlight bounds the span of unacked sequence numbers; it equals
	// the official plugin's out-of-order buffer.
	maxInFlight = 10_000
	// maxOutOfOrder is how many messages beyond expected we buffer.
	maxOutOfOrder = 10_000
	// maxPendingAcks bounds acks waiting for the writer. An ack dropped
	// here is recovered when the peer retransmits and we re-ack.
	maxPendingAcks = 10_000
	// maxAckBatch bounds the acks written in one batch.
	maxAckBatch = 256
	// An ack waits up to ackDelay for a message to travel with (the answer
	// to what it acks, typically), or until ackBatch acks are pending: one
	// write and one wake-up of the relay and of the peer instead of two. The
	// delay is below any RTO (minRTOVar alone is 10 ms, the plugin's clock
	// granularity as well); ackBatch keeps the sender's window moving in a
	// bulk transfer (8 acks of 64 KiB messages = 512 KiB of 4 MiB). While
	// acks flow the timer fires once per ackDelay, each time waking a
	// thread: a longer delay costs less CPU in an echo-bound session.
	ackDelay = 4 * time.Millisecond
	ackBatch = 8
	// maxMalformed is how many consecutive malformed frames Run tolerates.
	maxMalformed = 100

	// retransmitTick is how often Run looks for messages to retransmit.
	retransmitTick = 100 * time.Millisecond

	initialRTT = 100 * time.Millisecond
	initialRTO = 200 * time.Millisecond
	minRTOVar  = 10 * time.Millisecond
	maxRTO     = time.Second
)

var (
	// ErrClosed is returned by operations on a closed Stream.
	ErrClosed = errors.New("datachannel: stream closed")
	// ErrNotAttached is returned by SendControl when no Run is active.
	ErrNotAttached = errors.New("datachannel: no transport attached")
	// ErrRunning is returned by Run when another Run is active.
	ErrRunning = errors.New("datachannel: stream already running")
)

// Stats are a Stream's counters. Message counts are of stream messages
// (input_stream_data / output_stream_data); bytes are payload bytes.
type Stats struct {
	MessagesSent     int64 // given a sequence number by Send
	BytesSent        int64
	MessagesReceived int64 // accepted from the peer, duplicates excluded
	BytesReceived    int64
	Retransmissions  int64 // written again, by the timer or after a resume
	Duplicates       int64 // received again (and re-acked)
	DroppedForBuffer int64 // dropped unacked: MaxBufferedBytes or the out-of-order cap
	AcksSent         int64
	AcksReceived     int64
	AcksDropped      int64 // not sent because the writer was too far behind
	Malformed        int64 // frames that did not parse

	Unacked  int64         // payload bytes sent and not yet acked
	Buffered int64         // frame bytes received and not yet consumed by Recv
	RTO      time.Duration // current retransmission timeout
}

// Stream is a reliable, ordered, bidirectional message stream over a
// Transport that may lose, duplicate or reorder frames, or be replaced
// (protocol.md §3.4). All methods are safe for concurrent use; chunks of
// concurrent Sends may interleave.
type Stream struct {
	// Set by NewStream, then read-only.
	cfg      Config
	log      *slog.Logger
	sendType string // the stream type we send
	recvType string // the stream type we receive

	// Payload digests (SetPayloadDigests): leave them out of stream
	// messages we send, and skip checking them on what we receive.
	omitDigest      atomic.Bool
	skipDigestCheck atomic.Bool

	wsem   chan struct{} // one token: whoever holds it may write to the transport
	notify chan struct{} // wakes the writer; buffered, 1
	pool   sync.Pool     // *[]byte frames of cap payloadOffset+MaxPayload

	mu      sync.Mutex
	closed  bool
	running bool
	t       Transport               // attached transport, nil while detached
	runCtx  context.Context         // the active Run's context, nil while detached
	stop    context.CancelCauseFunc // cancels the active Run
	stats   Stats
	// busy is set while a stream message or ack write is claimed, by the
	// writer goroutine or by a Send that writes directly (sendDirectLocked).
	busy bool
	// Owned by whoever set busy: ack frames being written.
	ackBuf    []byte
	ackFrames [][]byte
	ackOffs   []int
	// ackTimer makes pending acks due (ackDue) once the oldest, queued
	// at ackSince, has waited ackDelay.
	ackTimer *time.Timer
	ackArmed bool // the timer is set, or its function is running
	ackDue   bool
	ackSince time.Time
	// ackRecent: an ack was queued since the timer last ran. The timer
	// stays armed while it finds this set, and disarms after a period
	// without acks.
	ackRecent bool
	// armAck: the reader queued an ack with the timer disarmed, and arms
	// it once it has handed the message on (armAcks). Reader's only.
	armAck bool
	// ackArms counts how often the timer was armed from disarmed (tests).
	ackArms int

	// Sender. out.at(i) holds sequence number base+i; acked entries are
	// nil until they reach the front. base+out.len() == nextSeq.
	out       deque[*outMsg]
	base      int64
	nextSeq   int64
	sendNext  int64         // first sequence number not yet written on the current transport
	unacked   int           // payload bytes in out
	sendWake  chan struct{} // closed when an ack arrives or on Close; nil if nobody waits
	rtt       time.Duration
	rttvar    time.Duration
	rto       time.Duration
	acks      []ackReq // acks waiting for the writer
	rtxCursor int64    // next sequence number the retransmission sweep looks at
	sweeping  bool

	// Receiver.
	expected int64
	ooo      map[int64]inMsg // received ahead of expected
	queue    deque[inMsg]    // in order, waiting for Recv
	buffered int             // frame bytes in ooo and queue
	queued   int             // frame bytes in queue
	recvWake chan struct{}   // closed on delivery or Close; nil if nobody waits
	// receiver, set by SetReceiver, takes in-order payloads from the
	// reader goroutine. While parked, it refused one: payloads queue for
	// recvParked until the queue is empty again.
	receiver func(inMsg) bool
	parked   bool
	// Owned by the reader goroutine: payloads handleData took for the
	// receiver, handed over once s.mu is released (flushInline).
	inline   []inMsg
	inlineFn func(inMsg) bool
}

type outMsg struct {
	seq      int64
	id       UUID
	frame    []byte
	pooled   *[]byte   // frame's pool entry, nil if not pooled
	size     int       // payload bytes
	lastSent time.Time // start, then end, of the latest write
	sends    int
	writing  bool // the writer holds frame
	acked    bool // acked while writing: the writer releases frame
}

type inMsg struct {
	pt      PayloadType
	payload []byte
	frame   []byte        // the frame payload aliases
	reuse   FrameRecycler // where frame goes once consumed, or nil
	cost    int           // frame bytes charged to buffered
}

type ackReq struct {
	seq int64
	id  UUID
}

// NewStream returns a Stream with no transport attached.
func NewStream(cfg Config) *Stream {
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	cfg.MaxPayload = min(cfg.MaxPayload, MaxMessagePayload)
	if cfg.MaxUnackedBytes <= 0 {
		cfg.MaxUnackedBytes = defaultMaxUnackedBytes
	}
	if cfg.MaxBufferedBytes <= 0 {
		cfg.MaxBufferedBytes = defaultMaxBufferedBytes
	}
	s := &Stream{
		cfg:    cfg,
		log:    cfg.Logger,
		wsem:   make(chan struct{}, 1),
		notify: make(chan struct{}, 1),
		rtt:    initialRTT,
		rto:    initialRTO,
		ooo:    make(map[int64]inMsg),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.sendType, s.recvType = TypeInputStreamData, TypeOutputStreamData
	if cfg.Role == RoleAgent {
		s.sendType, s.recvType = TypeOutputStreamData, TypeInputStreamData
	}
	frameCap := payloadOffset + cfg.MaxPayload
	s.pool.New = func() any {
		b := make([]byte, 0, frameCap)
		return &b
	}
	return s
}

// Run attaches t and runs the reader and the retransmission timer on it
// until ctx is cancelled (ctx.Err() is returned), Close is called (nil) or
// t fails (its error). The stream state survives: Run may be called again
// with a new transport, and then first resends every unacked message,
// oldest first. Every goroutine Run starts has ended when it returns.
func (s *Stream) Run(ctx context.Context, t Transport) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.running {
		s.mu.Unlock()
		return ErrRunning
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.running, s.t, s.runCtx, s.stop = true, t, runCtx, stop
	s.sendNext = s.base // resend everything unacked
	s.sweeping = false
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { stop(s.readLoop(runCtx, t)) })
	stop(s.writeLoop(runCtx, t))
	wg.Wait()

	s.mu.Lock()
	s.running, s.t, s.runCtx, s.stop = false, nil, nil, nil
	closed := s.closed
	// A direct write may still be using t; it ends promptly now that
	// runCtx is cancelled, and clears busy itself.
	s.mu.Unlock()
	switch {
	case closed:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return context.Cause(runCtx)
}

func (s *Stream) readLoop(ctx context.Context, t Transport) error {
	reuse, _ := t.(FrameRecycler)
	recycle := func(b []byte) {
		if reuse != nil {
			reuse.RecycleFrame(b)
		}
	}
	bad := 0
	for {
		b, err := t.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		m, err := parseMessage(b, !s.skipDigestCheck.Load())
		if err != nil {
			recycle(b)
			bad++
			s.mu.Lock()
			s.stats.Malformed++
			s.mu.Unlock()
			s.log.Debug("skipping malformed frame", "error", err, "frame_len", len(b))
			if bad > maxMalformed {
				return fmt.Errorf("%w: %d consecutive malformed frames", ErrMalformed, bad)
			}
			continue
		}
		bad = 0
		switch m.MessageType {
		case s.recvType:
			if !s.handleData(m, b, reuse) {
				recycle(b)
			}
			s.flushInline()
			if s.armAck {
				s.armAcks()
			}
		case TypeAcknowledge:
			s.handleAck(m)
			recycle(b)
		case s.sendType:
			// Our own stream type coming back: not for us.
			recycle(b)
		case TypeStartPublication:
			// The service says the peer is (re)attached: what we sent while
			// it was away was dropped, so resend everything unacked now
			// instead of waiting for the RTO.
			s.mu.Lock()
			s.sendNext = s.base
			s.mu.Unlock()
			s.wakeWriter()
			if s.cfg.OnControl != nil {
				s.cfg.OnControl(m)
			}
		default:
			if s.cfg.OnControl != nil {
				s.cfg.OnControl(m)
			}
		}
	}
}

// handleData applies the receiver rules of protocol.md §3.4. It reports
// whether the Stream kept frame.
func (s *Stream) handleData(m Message, frame []byte, reuse FrameRecycler) bool {
	seq := m.SequenceNumber
	in := inMsg{pt: m.PayloadType, payload: m.Payload, frame: frame, reuse: reuse, cost: len(frame)}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case seq < s.expected:
		s.stats.Duplicates++
		s.queueAckLocked(seq, m.MessageID)
		return false
	case seq == s.expected:
		// With a receiver that is not parked, in-order payloads go to it
		// straight from this goroutine (flushInline), not through the queue.
		push := s.receiver != nil && !s.parked && s.queue.len() == 0
		if !push && s.queued > 0 && s.buffered+in.cost > s.cfg.MaxBufferedBytes {
			s.stats.DroppedForBuffer++
			return false
		}
		if push {
			s.inline, s.inlineFn = append(s.inline, in), s.receiver
		} else {
			s.deliverLocked(in)
			s.buffered += in.cost
		}
		s.stats.MessagesReceived++
		s.stats.BytesReceived += int64(len(in.payload))
		s.queueAckLocked(seq, m.MessageID)
		s.expected++
		for {
			next, ok := s.ooo[s.expected]
			if !ok {
				break
			}
			delete(s.ooo, s.expected)
			if push {
				s.buffered -= next.cost // charged when it was buffered
				s.inline = append(s.inline, next)
			} else {
				s.deliverLocked(next)
			}
			s.expected++
		}
		if push {
			return true
		}
		if s.recvWake != nil {
			close(s.recvWake)
			s.recvWake = nil
		}
		return true
	default: // seq > expected
		if _, dup := s.ooo[seq]; dup {
			s.stats.Duplicates++
			s.queueAckLocked(seq, m.MessageID)
			return false
		}
		if seq-s.expected > maxOutOfOrder || len(s.ooo) >= maxOutOfOrder ||
			s.buffered+in.cost > s.cfg.MaxBufferedBytes ||
			s.buffered-s.queued+in.cost > s.cfg.MaxBufferedBytes/2 {
			s.stats.DroppedForBuffer++
			return false
		}
		s.ooo[seq] = in
		s.buffered += in.cost
		s.stats.MessagesReceived++
		s.stats.BytesReceived += int64(len(in.payload))
		s.queueAckLocked(seq, m.MessageID)
		return true
	}
}

// flushInline hands the payloads handleData took to the receiver, in order.
// When the receiver refuses one, it and the rest are queued and the stream
// parks: later payloads queue too until recvParked has drained the queue.
func (s *Stream) flushInline() {
	if len(s.inline) == 0 {
		return
	}
	for i, in := range s.inline {
		if s.inlineFn(in) {
			continue
		}
		s.mu.Lock()
		for _, r := range s.inline[i:] {
			s.deliverLocked(r)
			s.buffered += r.cost
		}
		s.parked = true
		if s.recvWake != nil {
			close(s.recvWake)
			s.recvWake = nil
		}
		s.mu.Unlock()
		break
	}
	clear(s.inline)
	s.inline, s.inlineFn = s.inline[:0], nil
}

// SetReceiver makes the reader goroutine hand every in-order payload to fn,
// without a hand-off to another goroutine, instead of queueing it for Recv.
// fn owns what it accepts (inMsg.recycle gives the frame back). It must not
// block; when it cannot take a payload now it returns false, and that
// payload and the ones after it queue (bounded by MaxBufferedBytes) until
// the consumer drains them with recvParked. Payloads already queued when
// SetReceiver is called are drained the same way. Recv must not be used
// with a receiver.
func (s *Stream) SetReceiver(fn func(inMsg) bool) {
	s.mu.Lock()
	s.receiver = fn
	s.parked = s.queue.len() > 0
	s.mu.Unlock()
}

// recvParked returns the next queued payload of a stream with a receiver.
// When the queue is empty the stream unparks, so the receiver gets payloads
// directly again, and recvParked waits for the next refusal. It returns
// io.EOF once the stream is closed and the queue is empty.
func (s *Stream) recvParked(ctx context.Context) (inMsg, error) {
	return s.dequeue(ctx, true)
}

// deliverLocked moves an in-order message to the Recv queue. Messages that
// come from ooo were counted and charged when they were buffered.
func (s *Stream) deliverLocked(in inMsg) {
	s.queue.push(in)
	s.queued += in.cost
}

func (s *Stream) queueAckLocked(seq int64, id UUID) {
	if len(s.acks) >= maxPendingAcks {
		s.stats.AcksDropped++
		return
	}
	s.acks = append(s.acks, ackReq{seq: seq, id: id})
	if len(s.acks) == 1 {
		s.ackSince = time.Now()
	}
	s.ackRecent = true
	switch {
	case len(s.acks) >= ackBatch:
		s.wakeWriter()
	case !s.ackArmed:
		// Arming the timer may wake another thread of this process (the
		// runtime must learn of the new deadline): not on the path of the
		// message just received, so the reader arms it once it has handed
		// the message on (armAcks).
		s.armAck = true
	}
}

// armAcks arms the ack timer unless it is armed. Called by the reader
// after the messages it read were delivered.
func (s *Stream) armAcks() {
	s.armAck = false
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ackArmed || s.closed || len(s.acks) == 0 {
		return
	}
	// The timer stays armed while acks keep coming (acksDue), so that a
	// steady exchange arms it once rather than once per period.
	s.ackArmed = true
	s.ackArms++
	wait := max(ackDelay-time.Since(s.ackSince), 0)
	if s.ackTimer == nil {
		s.ackTimer = time.AfterFunc(wait, s.acksDue)
	} else {
		s.ackTimer.Reset(wait)
	}
}

// acksDue runs when the timer fires. Pending acks that have waited
// ackDelay go now, and the timer looks again in a period; if the oldest
// pending ack is younger, the timer is re-armed for it. With none pending,
// the timer stays armed for another period if acks were queued in this one
// (they went with messages: an echo or a keystroke answered within
// ackDelay), and disarms after a period without any.
func (s *Stream) acksDue() {
	s.mu.Lock()
	recent := s.ackRecent
	s.ackRecent = false
	switch {
	case s.closed || (len(s.acks) == 0 && !recent):
		s.ackArmed = false
		s.mu.Unlock()
		return
	case len(s.acks) == 0:
		s.ackTimer.Reset(ackDelay)
		s.mu.Unlock()
		return
	}
	if wait := ackDelay - time.Since(s.ackSince); wait > 0 {
		s.ackTimer.Reset(wait)
		s.mu.Unlock()
		return
	}
	// Due: the writer sends them, and the timer looks again in a period.
	s.ackDue = true
	s.ackTimer.Reset(ackDelay)
	s.mu.Unlock()
	s.wakeWriter()
}

func (s *Stream) wakeWriter() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Stream) handleAck(m Message) {
	typ, id, seq, ok := parseAckFast(m.Payload)
	if !ok {
		var a Acknowledge
		if err := json.Unmarshal(m.Payload, &a); err != nil {
			s.log.Debug("skipping undecodable ack", "error", err)
			return
		}
		typ, seq = []byte(a.AcknowledgedMessageType), a.AcknowledgedMessageSequenceNumber
		id, _ = ParseUUID(a.AcknowledgedMessageId) // zero if invalid: logged as a mismatch
	}
	if string(typ) != s.sendType {
		s.log.Debug("skipping ack for another message type", "acked_type", string(typ))
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.AcksReceived++
	if seq < s.base || seq >= s.nextSeq {
		return // a late duplicate, or nonsense
	}
	slot := s.out.at(int(seq - s.base))
	p := *slot
	if p == nil {
		return
	}
	if id != p.id {
		// The sequence number decides; a mismatch means a peer bug.
		s.log.Debug("ack message id mismatch", "sequence", seq, "acked_id", id.String(), "sent_id", p.id.String())
	}
	if p.sends == 1 {
		s.sampleRTTLocked(now.Sub(p.lastSent))
	}
	*slot = nil
	for s.out.len() > 0 && *s.out.at(0) == nil {
		s.out.pop()
		s.base++
	}
	s.unacked -= p.size
	if p.writing {
		p.acked = true
	} else {
		s.release(p)
	}
	if s.sendWake != nil {
		close(s.sendWake)
		s.sendWake = nil
	}
}

// sampleRTTLocked updates the estimator of protocol.md §3.4. Callers skip
// retransmitted messages (Karn's algorithm).
func (s *Stream) sampleRTTLocked(sample time.Duration) {
	sample = max(sample, 0)
	s.rttvar = s.rttvar*3/4 + (s.rtt-sample).Abs()/4
	s.rtt = s.rtt*7/8 + sample/8
	s.rto = min(s.rtt+max(minRTOVar, 4*s.rttvar), maxRTO)
}

func (s *Stream) release(p *outMsg) {
	if p.pooled != nil {
		*p.pooled = p.frame[:0]
		s.pool.Put(p.pooled)
		p.pooled = nil
	}
	p.frame = nil
}

// writeLoop writes acks and stream messages on t, except a message that
// Send writes itself (sendDirectLocked). Acks go first (they open the
// peer's window), then due retransmissions, oldest first, then messages
// not yet written on t.
func (s *Stream) writeLoop(ctx context.Context, t Transport) error {
	ticker := time.NewTicker(retransmitTick)
	defer ticker.Stop()
	for {
		s.mu.Lock()
		switch {
		case s.busy:
			// A Send is writing directly; it wakes us if work is left.
		default:
			// Acks go when due, or along with a message.
			p := s.nextOutLocked(time.Now())
			acksDue := len(s.acks) >= ackBatch || (s.ackDue && len(s.acks) > 0)
			if p == nil && !acksDue {
				break
			}
			n := s.takeAcksLocked()
			frames := s.ackFrames
			if p != nil {
				frames = append(frames, p.frame)
			}
			s.busy = true
			s.mu.Unlock()
			err := s.writeBatch(ctx, t, frames)
			s.mu.Lock()
			s.busy = false
			s.stats.AcksSent += int64(n)
			if p != nil {
				s.finishWriteLocked(p)
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-s.notify:
		case <-ticker.C:
			s.mu.Lock()
			s.sweeping, s.rtxCursor = true, s.base
			s.mu.Unlock()
		}
	}
}

func (s *Stream) finishWriteLocked(p *outMsg) {
	p.writing = false
	p.lastSent = time.Now()
	if p.acked {
		s.release(p)
	}
}

// sendDirectLocked writes p, just queued, from the calling goroutine if it
// is the next message to go and nothing else is being written, so that a
// message (a keystroke, an echo, and in a bulk transfer most messages)
// skips the hand-off to the writer goroutine; otherwise it wakes the
// writer. Called with s.mu held, it
// returns with s.mu released. A failed write ends the Run, as one by the
// writer would: p stays queued and goes out on the next transport.
func (s *Stream) sendDirectLocked(p *outMsg) {
	if s.t == nil || s.busy || s.sweeping || p.seq != max(s.sendNext, s.base) {
		s.mu.Unlock()
		s.wakeWriter()
		return
	}
	t, ctx, stop := s.t, s.runCtx, s.stop
	s.busy = true
	s.sendNext = p.seq + 1
	s.startWriteLocked(p, time.Now())
	// Acks waiting for the writer go in the same write: one wake-up of
	// the peer instead of two.
	nacks := s.takeAcksLocked()
	s.mu.Unlock()
	err := s.writeBatch(ctx, t, append(s.ackFrames, p.frame))
	s.mu.Lock()
	s.busy = false
	s.stats.AcksSent += int64(nacks)
	s.finishWriteLocked(p)
	more := len(s.acks) >= ackBatch || (s.ackDue && len(s.acks) > 0) || s.sweeping || s.sendNext < s.nextSeq
	s.mu.Unlock()
	if err != nil {
		stop(err)
		return
	}
	if more {
		s.wakeWriter()
	}
}

// nextOutLocked picks the next stream message to write and marks it as
// being written, or returns nil.
func (s *Stream) nextOutLocked(now time.Time) *outMsg {
	s.sendNext = max(s.sendNext, s.base)
	if s.sweeping {
		for c := max(s.rtxCursor, s.base); c < s.sendNext; c++ {
			p := *s.out.at(int(c - s.base))
			if p == nil || p.writing || now.Sub(p.lastSent) < s.rto {
				continue
			}
			s.rtxCursor = c + 1
			return s.startWriteLocked(p, now)
		}
		s.sweeping = false
	}
	for s.sendNext < s.nextSeq {
		p := *s.out.at(int(s.sendNext - s.base))
		s.sendNext++
		if p != nil && !p.writing {
			return s.startWriteLocked(p, now)
		}
	}
	return nil
}

func (s *Stream) startWriteLocked(p *outMsg, now time.Time) *outMsg {
	p.writing = true
	p.sends++
	p.lastSent = now
	if p.sends > 1 {
		s.stats.Retransmissions++
	}
	return p
}

// takeAcksLocked moves up to maxAckBatch pending acks into s.ackFrames,
// marshalled, and returns how many. The caller must then set busy, which
// makes the frames its own until it clears busy.
func (s *Stream) takeAcksLocked() int {
	n := min(len(s.acks), maxAckBatch)
	s.ackBuf, s.ackOffs, s.ackFrames = s.ackBuf[:0], s.ackOffs[:0], s.ackFrames[:0]
	for _, a := range s.acks[:n] {
		start := len(s.ackBuf)
		s.ackBuf = slices.Grow(s.ackBuf, payloadOffset+256)
		// Marshalled in place; copied over itself, or from wherever it
		// landed if it outgrew the room.
		s.ackBuf = append(s.ackBuf, s.appendAck(s.ackBuf[start:start], a)...)
		s.ackOffs = append(s.ackOffs, start)
	}
	for i, off := range s.ackOffs {
		end := len(s.ackBuf)
		if i+1 < len(s.ackOffs) {
			end = s.ackOffs[i+1]
		}
		s.ackFrames = append(s.ackFrames, s.ackBuf[off:end])
	}
	s.acks = s.acks[:copy(s.acks, s.acks[n:])]
	if len(s.acks) == 0 {
		// The timer stays armed (see queueAckLocked); it finds nothing.
		s.ackDue = false
	}
	return n
}

// writeBatch writes frames in order, in one call when t is a BatchWriter.
func (s *Stream) writeBatch(ctx context.Context, t Transport, frames [][]byte) error {
	bw, ok := t.(BatchWriter)
	if !ok || len(frames) == 1 {
		for _, f := range frames {
			if err := s.write(ctx, t, f); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.takeWriteToken(ctx); err != nil {
		return err
	}
	defer func() { <-s.wsem }()
	if err := bw.WriteMessages(ctx, frames); err != nil {
		return fmt.Errorf("write messages: %w", err)
	}
	return nil
}

func (s *Stream) appendAck(dst []byte, a ackReq) []byte {
	dst = dst[:payloadOffset]
	dst = appendAckPayload(dst, s.recvType, a.id, a.seq)
	m := Message{
		MessageType: TypeAcknowledge,
		Flags:       flagsAck,
		MessageID:   NewUUID(),
		Payload:     dst[payloadOffset:],
	}
	// Marshal the header in place in front of the payload: the payload
	// bytes copy onto themselves.
	out, err := m.AppendBinary(dst[:0])
	if err != nil {
		panic(err) // constant type, small payload
	}
	return out
}

// takeWriteToken waits for the token that one write on the transport
// holds at a time; the caller gives it back with <-s.wsem.
func (s *Stream) takeWriteToken(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// write writes one frame, holding the write token.
func (s *Stream) write(ctx context.Context, t Transport, b []byte) error {
	if err := s.takeWriteToken(ctx); err != nil {
		return err
	}
	defer func() { <-s.wsem }()
	if err := t.WriteMessage(ctx, b); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// Send queues payload as stream messages of type pt, split into MaxPayload
// chunks with a sequence number each; an empty payload is one empty message.
// It copies payload, and blocks while the send window is full. It works
// while no transport is attached: the messages go out on the next Run.
//
// When nothing is being written and no retransmission is due, Send writes
// the message to the transport itself instead of waking the writer
// goroutine, and so may also block like a write on the transport (until
// the transport accepts the frame or the Run ends, whatever ctx says). A
// goroutine that must never block on the transport, such as a reader, must
// not call Send.
func (s *Stream) Send(ctx context.Context, pt PayloadType, payload []byte) error {
	_, err := s.send(ctx, pt, payload)
	return err
}

func (s *Stream) send(ctx context.Context, pt PayloadType, payload []byte) (int, error) {
	n := 0
	for {
		chunk := payload[:min(len(payload), s.cfg.MaxPayload)]
		if err := s.sendChunk(ctx, pt, chunk, nil); err != nil {
			return n, err
		}
		n += len(chunk)
		payload = payload[len(chunk):]
		if len(payload) == 0 {
			return n, nil
		}
	}
}

// sendChunk queues one message whose payload is a followed by b; together
// they must fit in MaxPayload.
func (s *Stream) sendChunk(ctx context.Context, pt PayloadType, a, b []byte) error {
	size := len(a) + len(b)
	p := &outMsg{id: NewUUID(), size: size}
	var buf []byte
	if size >= s.cfg.MaxPayload/2 {
		// Only large frames use the pool: a keystroke must not pin a
		// MaxPayload-sized buffer while it waits for its ack.
		p.pooled = s.pool.Get().(*[]byte)
		buf = (*p.pooled)[:0]
	}
	m := Message{
		MessageType: s.sendType,
		CreatedDate: time.Now(),
		MessageID:   p.id,
		PayloadType: pt,
	}
	// The sequence number is patched in once the window has room, so that
	// the digest is computed outside the lock.
	p.frame = appendStreamFrame(buf, &m, a, b, !s.omitDigest.Load())
	return s.enqueue(ctx, p)
}

// sendRead queues one message whose payload fill writes into the buffer
// it is given (MaxPayload bytes) and whose length it returns. fill's error
// is returned once its bytes, if any, are queued. The payload is read
// straight into a pooled frame, which a payload of at least MaxPayload/2
// bytes keeps; a smaller one is copied out of it, as in sendChunk.
func (s *Stream) sendRead(ctx context.Context, pt PayloadType, fill func([]byte) (int, error)) (int, error) {
	pooled := s.pool.Get().(*[]byte)
	buf := (*pooled)[:payloadOffset+s.cfg.MaxPayload]
	n, ferr := fill(buf[payloadOffset:])
	if n <= 0 {
		s.pool.Put(pooled)
		return 0, ferr
	}
	p := &outMsg{id: NewUUID(), size: n}
	frame := buf[:payloadOffset+n]
	if n >= s.cfg.MaxPayload/2 {
		p.pooled = pooled
	} else {
		frame = slices.Clone(frame)
		s.pool.Put(pooled)
	}
	finishStreamFrame(frame, &Message{
		MessageType: s.sendType,
		CreatedDate: time.Now(),
		MessageID:   p.id,
		PayloadType: pt,
	}, !s.omitDigest.Load())
	p.frame = frame
	if err := s.enqueue(ctx, p); err != nil {
		return 0, err
	}
	return n, ferr
}

// enqueue waits for room in the window, numbers p and queues it.
func (s *Stream) enqueue(ctx context.Context, p *outMsg) error {
	size := p.size
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			s.release(p)
			return ErrClosed
		}
		if s.windowOpenLocked(size) {
			break
		}
		if err := s.waitLocked(ctx, &s.sendWake); err != nil {
			s.mu.Unlock()
			s.release(p)
			return err
		}
	}
	p.seq = s.nextSeq
	s.nextSeq++
	binary.BigEndian.PutUint64(p.frame[offSequence:], uint64(p.seq))
	binary.BigEndian.PutUint64(p.frame[offCreatedDate:], uint64(time.Now().UnixMilli()))
	if p.seq == 0 && s.cfg.Role == RoleAgent {
		binary.BigEndian.PutUint64(p.frame[offFlags:], flagsAgentFirstData)
	}
	s.out.push(p)
	s.unacked += p.size
	s.stats.MessagesSent++
	s.stats.BytesSent += int64(p.size)
	s.sendDirectLocked(p)
	return nil
}

func (s *Stream) windowOpenLocked(n int) bool {
	if s.out.len() == 0 {
		return true // a chunk larger than the window still goes, alone
	}
	return s.out.len() < maxInFlight && s.unacked+n <= s.cfg.MaxUnackedBytes
}

// Write sends p as PayloadOutput messages (io.Writer). It blocks while the
// window is full and fails once the Stream is closed.
func (s *Stream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return 0, ErrClosed
		}
		return 0, nil
	}
	return s.send(context.Background(), PayloadOutput, p)
}

// Recv returns the next in-order payload of the peer's stream. The payload
// is the caller's. After Close it drains what was already received, then
// returns io.EOF.
func (s *Stream) Recv(ctx context.Context) (PayloadType, []byte, error) {
	in, err := s.recv(ctx)
	return in.pt, in.payload, err
}

// recv is Recv returning the whole inMsg, so that a caller that consumes
// the payload at once can hand its frame back (inMsg.recycle).
func (s *Stream) recv(ctx context.Context) (inMsg, error) {
	return s.dequeue(ctx, false)
}

// dequeue pops the queue's head, waiting for one; with unpark, an empty
// queue also unparks the stream (recvParked).
func (s *Stream) dequeue(ctx context.Context, unpark bool) (inMsg, error) {
	s.mu.Lock()
	for {
		if s.queue.len() > 0 {
			in := s.queue.pop()
			s.queued -= in.cost
			s.buffered -= in.cost
			s.mu.Unlock()
			return in, nil
		}
		if unpark {
			s.parked = false
		}
		if s.closed {
			s.mu.Unlock()
			return inMsg{}, io.EOF
		}
		if err := s.waitLocked(ctx, &s.recvWake); err != nil {
			s.mu.Unlock()
			return inMsg{}, err
		}
	}
}

// recycle hands in's frame back to the transport it came from, if that
// reuses frames. The caller must be done with in.payload.
func (in *inMsg) recycle() {
	if in.reuse != nil && in.frame != nil {
		in.reuse.RecycleFrame(in.frame)
	}
	in.frame, in.payload, in.reuse = nil, nil, nil
}

// SendControl writes m, a message outside the stream (acknowledge,
// channel_closed, agent_session_state, ...), on the attached transport now.
// It is neither sequenced nor retransmitted; m.SequenceNumber is written as
// given (0 by convention). It fails with ErrNotAttached when no Run is
// active.
func (s *Stream) SendControl(ctx context.Context, m Message) error {
	if m.MessageType == s.sendType {
		return fmt.Errorf("send control message: %s is the stream type, use Send", m.MessageType)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("send control message: %w", err)
	}
	s.mu.Lock()
	t, closed := s.t, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if t == nil {
		return ErrNotAttached
	}
	return s.write(ctx, t, b)
}

// WaitAcked returns once every stream message sent so far has been acked,
// or ErrClosed if the Stream is closed first.
func (s *Stream) WaitAcked(ctx context.Context) error {
	s.mu.Lock()
	for {
		if s.out.len() == 0 {
			s.mu.Unlock()
			return nil
		}
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if err := s.waitLocked(ctx, &s.sendWake); err != nil {
			s.mu.Unlock()
			return err
		}
	}
}

// waitLocked releases s.mu until *wake (made if nil) is closed or ctx ends,
// and returns with s.mu held: ctx's error if it ended.
func (s *Stream) waitLocked(ctx context.Context, wake *chan struct{}) error {
	if *wake == nil {
		*wake = make(chan struct{})
	}
	ch := *wake
	s.mu.Unlock()
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-ch:
	}
	s.mu.Lock()
	return err
}

// Close stops Run and unblocks Send, Write, Recv and WaitAcked. Recv still
// returns what was already received. Close is idempotent and does not wait
// for Run to return.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	stop := s.stop
	if s.ackTimer != nil {
		s.ackTimer.Stop()
	}
	if s.sendWake != nil {
		close(s.sendWake)
		s.sendWake = nil
	}
	if s.recvWake != nil {
		close(s.recvWake)
		s.recvWake = nil
	}
	s.mu.Unlock()
	if stop != nil {
		stop(ErrClosed)
	}
	return nil
}

// SetPayloadDigests sets whether stream messages sent from now on carry the
// SHA-256 digest of their payload (write) and whether received messages'
// digests are checked (check). Both are on by default, as the protocol
// requires; a peer that accepted ActionUnhashedPayloads needs neither. The
// digest has no key: it never protected against anyone who can change the
// bytes in transit, only against corruption, which TLS (or TCP on loopback)
// on every hop already catches. Skipping it halves the CPU a byte costs.
func (s *Stream) SetPayloadDigests(write, check bool) {
	s.omitDigest.Store(!write)
	s.skipDigestCheck.Store(!check)
}

// Stats returns a snapshot of the counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Unacked = int64(s.unacked)
	st.Buffered = int64(s.buffered)
	st.RTO = s.rto
	return st
}

// deque is a FIFO over a slice that reuses its storage.
type deque[T any] struct {
	buf  []T
	head int
}

func (d *deque[T]) len() int { return len(d.buf) - d.head }

func (d *deque[T]) at(i int) *T { return &d.buf[d.head+i] }

func (d *deque[T]) push(v T) {
	if d.head > 0 && len(d.buf) == cap(d.buf) && d.head*2 >= len(d.buf) {
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf = d.buf[:n]
		d.head = 0
	}
	d.buf = append(d.buf, v)
}

func (d *deque[T]) pop() T {
	var zero T
	v := d.buf[d.head]
	d.buf[d.head] = zero
	d.head++
	if d.head == len(d.buf) {
		d.buf = d.buf[:0]
		d.head = 0
	}
	return v
}
