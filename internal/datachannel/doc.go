// Package datachannel owns the AWS Session Manager data-channel wire format
// (protocol.md §3.3) and a reliable, ordered message stream on top of any
// frame transport (§3.4): sequence numbers, selective acknowledgements,
// retransmission and resume after a reconnect.
//
// It is imported by the agent, the CLI and the server relay, and therefore
// depends on the standard library only. The relay uses the cheap header
// readers (PeekMessageType, PeekSequence) and forwards frames unchanged; the
// two endpoints use Stream.
package datachannel
