//! The receiving half of a connection: bytes in, messages out (RFC 6455,
//! sections 5.1 to 5.6).
//!
//! [`Receiver`] is a pull parser. The caller hands it whatever bytes arrived;
//! it consumes them up to the end of the next complete message or control
//! frame and says how many it used. It never asks for more than it needs,
//! never holds bytes of a later frame, and checks every rule the moment the
//! bytes that break it arrive:
//!
//! ```text
//!              +----------------+  header complete   +-----------------+
//!   bytes ---> | reading header | -----------------> | reading payload |
//!              +----------------+                    +-----------------+
//!                 ^    |  rule broken                  |  unmask, append,
//!                 |    v                               |  check UTF-8 as it
//!                 |  Err(Violation)                    |  arrives
//!                 |                                    v
//!                 +------------- frame complete: a message if FIN,
//!                                a ping/pong/close at once
//! ```
//!
//! Fragments of a message are appended to one buffer, so what a message holds
//! stays proportional to its payload whatever its number of fragments; its
//! size is checked against the limits when each frame's header arrives, before
//! any of its payload is buffered. Control frames may arrive between the
//! fragments of a message (section 5.4) and are returned at once.

use super::Role;
use super::close::parse_close_payload;
use super::compressor::RSV1;
use super::extension::Direction;
use super::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use super::mask::apply_mask;
use super::utf8::Utf8Validator;
use super::violation::Violation;
use crate::deflate::{DeflateError, Inflater};
use crate::message::{Message, MessagePart};

/// The size limits a receiver enforces (close code 1009 beyond them).
///
/// ```
/// use stdws::protocol::Limits;
/// let limits = Limits::new(64 << 10, 1 << 20);
/// assert_eq!(limits.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest payload a single frame may declare.
    pub max_frame_size: usize,
    /// The largest a message may grow to, over all its fragments.
    pub max_message_size: usize,
}

impl Limits {
    /// The default message limit: 1 MiB, Python `websockets`' figure, a size
    /// for the open internet (a server holds up to this much for each
    /// client that sends slowly). Applications that exchange more ask for
    /// it; the echo example, a conformance peer, asks for 16 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;

    /// Limits of `max_frame_size` per frame and `max_message_size` per
    /// message.
    pub const fn new(max_frame_size: usize, max_message_size: usize) -> Limits {
        Limits {
            max_frame_size,
            max_message_size,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: Limits::DEFAULT_MAX_MESSAGE_SIZE,
            max_message_size: Limits::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// Space reserved up front for a data frame's payload; larger payloads grow
/// the buffer as their bytes arrive, so that a header announcing a huge frame
/// does not claim memory that its sender never fills.
const MAX_UPFRONT_RESERVE: usize = 1 << 20;

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes already read (the masking key's phase).
    read: u64,
}

/// A text or binary message whose frames are being assembled.
#[derive(Debug)]
struct MessageInProgress {
    text: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
    /// Whether `utf8` has seen the message's bytes so far (it is skipped when
    /// a whole unfragmented text frame arrives at once; `String::from_utf8`
    /// checks it then).
    streaming_utf8: bool,
    /// Whether the message is handed over in parts (then `data` holds only
    /// what arrived since the last part).
    in_parts: bool,
    /// The message's length so far, parts handed over included.
    len: u64,
    /// Whether a part of it has been handed over.
    started: bool,
    /// Whether its first frame had RSV1 set: its payload is DEFLATE data
    /// (RFC 7692 section 6.2), and `data`, `len` and the parts hold what it
    /// inflates to.
    compressed: bool,
}

/// The receiving side of `permessage-deflate` (RFC 7692 section 6.2).
#[derive(Debug)]
struct Inflate {
    direction: Direction,
    /// Kept between messages when the peer keeps its context; otherwise
    /// made for each compressed message and dropped after it, so that an
    /// idle connection holds no window.
    inflater: Option<Inflater>,
    /// A piece of compressed payload, unmasked.
    scratch: Vec<u8>,
}

/// The receiving half of a WebSocket connection. See the [module docs](self).
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    limits: Limits,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<FrameInProgress>,
    message: Option<MessageInProgress>,
    control: Vec<u8>,
    failed: Option<Violation>,
    close_received: bool,
    observe: bool,
    seen: Vec<SeenFrame>,
    seen_prefix: Vec<u8>,
    seen_inflated: Option<u64>,
    parts_from: Option<u64>,
    part: Option<MessagePart>,
    inflate: Option<Inflate>,
}

/// A frame the receiver decoded, as recorded for tracing: its header and the
/// first bytes of its payload, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFrame {
    /// The header.
    pub header: FrameHeader,
    /// Up to [`SeenFrame::PREFIX`] bytes from the start of the payload.
    pub prefix: Vec<u8>,
    /// For a frame of a compressed message: how many bytes its payload
    /// inflated to (the last frame's count includes the sync-flush tail's).
    pub inflated: Option<u64>,
}

impl SeenFrame {
    /// How many payload bytes are kept.
    pub const PREFIX: usize = 4096;
}

impl Receiver {
    /// A receiver for the endpoint playing `role`: a server expects masked
    /// frames, a client unmasked ones.
    pub fn new(role: Role, limits: Limits) -> Self {
        Receiver {
            role,
            limits,
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            control: Vec::new(),
            failed: None,
            close_received: false,
            observe: false,
            seen: Vec::new(),
            seen_prefix: Vec::new(),
            seen_inflated: None,
            parts_from: None,
            part: None,
            inflate: None,
        }
    }

    /// Accepts messages compressed with `permessage-deflate` as agreed for
    /// what the peer sends ([`Agreed::inbound`](super::extension::Agreed::inbound)):
    /// RSV1 on a message's first frame then means its payload is DEFLATE
    /// data, inflated as it arrives (RFC 7692 section 6.2). Without it
    /// (`None`, the default), RSV1 fails the connection with 1002.
    ///
    /// The inflated message counts against `max_message_size` as it is
    /// produced: a message that would inflate past it fails with 1009 before
    /// that memory is spent. Data that does not inflate fails with 1002.
    /// Parts ([`deliver_parts_from`](Self::deliver_parts_from)) hold
    /// inflated data. A compressed message is never read through
    /// [`payload_buffer`](Self::payload_buffer).
    ///
    /// ```
    /// use stdws::protocol::{Receiver, Limits, Role};
    /// use stdws::protocol::extension::Direction;
    /// use stdws::Message;
    /// let mut rx = Receiver::new(Role::Client, Limits::default());
    /// rx.set_compression(Some(Direction { window_bits: 15, no_context_takeover: false }));
    /// // RFC 7692 section 7.2.3.1: "Hello" compressed, RSV1 set.
    /// let wire = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    /// assert_eq!(rx.receive(&wire).unwrap(), (9, Some(Message::text("Hello"))));
    /// ```
    pub fn set_compression(&mut self, direction: Option<Direction>) {
        self.inflate = direction.map(|direction| Inflate {
            direction,
            inflater: None,
            scratch: Vec::new(),
        });
    }

    /// The bytes the decompressor holds between messages.
    pub fn compression_bytes(&self) -> usize {
        self.inflate.as_ref().map_or(0, |i| {
            i.scratch.capacity() + i.inflater.as_ref().map_or(0, Inflater::allocated_bytes)
        })
    }

    /// Hands over messages of at least `size` bytes in parts, as their bytes
    /// arrive, instead of whole (`None`, the default: always whole).
    ///
    /// A message goes in parts when its first frame announces `size` bytes
    /// or more, or once `size` bytes of it have arrived. After every call to
    /// [`receive`](Self::receive) or
    /// [`payload_appended`](Self::payload_appended), the caller takes the
    /// part that call completed, if any, with [`take_part`](Self::take_part).
    /// A part holds what the call was given of the message, continuation
    /// frames included (a burst of small fragments makes one part); it
    /// ends at the end of the input, before any other frame, or with the
    /// message.
    ///
    /// ```
    /// use stdws::protocol::{Receiver, Limits, Role};
    /// let mut rx = Receiver::new(Role::Client, Limits::default());
    /// rx.deliver_parts_from(Some(4));
    /// // An unmasked binary frame announcing 6 bytes, of which 4 arrive.
    /// assert_eq!(rx.receive(&[0x82, 0x06, 1, 2, 3, 4]).unwrap(), (6, None));
    /// let part = rx.take_part().unwrap();
    /// assert_eq!((part.data, part.first, part.last), (vec![1, 2, 3, 4], true, false));
    /// assert_eq!(rx.receive(&[5, 6]).unwrap(), (2, None));
    /// let part = rx.take_part().unwrap();
    /// assert_eq!((part.data, part.first, part.last), (vec![5, 6], false, true));
    /// ```
    pub fn deliver_parts_from(&mut self, size: Option<usize>) {
        self.parts_from = size.map(|s| s as u64);
    }

    /// The part of a message that the last call completed (see
    /// [`deliver_parts_from`](Self::deliver_parts_from)).
    pub fn take_part(&mut self) -> Option<MessagePart> {
        self.part.take()
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether a close frame has been received (input after it is ignored).
    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// Whether the receiver is between frames and messages: an end of the
    /// stream here loses nothing that was started.
    pub fn is_idle(&self) -> bool {
        self.header_len == 0 && self.frame.is_none() && self.message.is_none()
    }

    /// Records every decoded frame header, to be collected with
    /// [`take_seen_frames`](Self::take_seen_frames) (used by tracing).
    pub fn observe_frames(&mut self, on: bool) {
        self.observe = on;
    }

    /// The frames completed since the last call, when observing.
    pub fn take_seen_frames(&mut self) -> Vec<SeenFrame> {
        std::mem::take(&mut self.seen)
    }

    /// The header of the frame being read, if one is partly read (for
    /// tracing a violation in its payload).
    pub fn current_frame(&self) -> Option<FrameHeader> {
        self.frame.map(|f| f.header)
    }

    /// The bytes this receiver holds for a message still arriving (the
    /// buffer's capacity): what a server counts against its memory budget.
    pub fn buffered_bytes(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.data.capacity())
    }

    /// How many payload bytes of the current frame are still to come: a hint
    /// for how much to read next.
    pub fn payload_remaining(&self) -> usize {
        self.frame
            .map_or(0, |f| f.remaining.min(usize::MAX as u64) as usize)
    }

    /// Consumes bytes from `data` up to the end of the next message or control
    /// frame.
    ///
    /// Returns how many bytes were used and the message, if one was completed.
    /// When fewer than `data.len()` bytes were used, a message is returned and
    /// the caller passes the rest in the next call. A close frame is returned
    /// as [`Message::Close`]; input after it is ignored.
    ///
    /// Once a rule is broken, this and every later call return the violation.
    ///
    /// ```
    /// use stdws::protocol::{Receiver, Limits, Role};
    /// use stdws::Message;
    /// let mut rx = Receiver::new(Role::Client, Limits::default());
    /// // RFC 6455, section 5.7: "Hel" + "lo" in two unmasked fragments.
    /// let wire = [0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o'];
    /// assert_eq!(rx.receive(&wire).unwrap(), (9, Some(Message::text("Hello"))));
    /// ```
    pub fn receive(&mut self, data: &[u8]) -> Result<(usize, Option<Message>), Violation> {
        if let Some(violation) = self.failed {
            return Err(violation);
        }
        if self.close_received {
            return Ok((data.len(), None));
        }
        match self.receive_inner(data) {
            Ok(done) => Ok(done),
            Err(violation) => {
                self.fail(violation);
                Err(violation)
            }
        }
    }

    fn fail(&mut self, violation: Violation) {
        self.failed = Some(violation);
        self.message = None;
        self.frame = None;
        self.part = None;
    }

    fn receive_inner(&mut self, data: &[u8]) -> Result<(usize, Option<Message>), Violation> {
        let mut pos = 0;
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.read_header(&data[pos..])? {
                    (used, Some(frame)) => {
                        pos += used;
                        frame
                    }
                    (used, None) => return Ok((pos + used, None)),
                },
            };
            let available = (data.len() - pos) as u64;
            let take = frame.remaining.min(available) as usize;
            self.take_payload(&frame, &data[pos..pos + take])?;
            pos += take;
            if let Some(message) = self.advance(frame, take)? {
                return Ok((pos, Some(message)));
            }
            if self.frame.is_some() || pos == data.len() || self.part_is_complete(data.get(pos)) {
                return Ok((pos, None));
            }
        }
    }

    /// Whether a part is ready to hand over, given the first byte of the next
    /// frame: continuation frames already at hand join the part, so that a
    /// burst of small fragments makes one part, not one per fragment.
    fn part_is_complete(&self, next: Option<&u8>) -> bool {
        let continues =
            next.is_some_and(|&byte| OpCode::from_bits(byte & 0x0f) == Some(OpCode::Continuation));
        self.part
            .as_ref()
            .is_some_and(|part| part.last || !continues)
    }

    /// Records that `taken` more bytes of `frame`'s payload were stored, and
    /// completes the frame when its payload is all there.
    fn advance(
        &mut self,
        frame: FrameInProgress,
        taken: usize,
    ) -> Result<Option<Message>, Violation> {
        let remaining = frame.remaining - taken as u64;
        if remaining > 0 {
            self.frame = Some(FrameInProgress {
                remaining,
                read: frame.read + taken as u64,
                ..frame
            });
            return Ok(None);
        }
        self.frame = None;
        let ends_message = frame.header.fin && !frame.header.opcode.is_control();
        if ends_message && self.message.as_ref().is_some_and(|m| m.compressed) {
            self.finish_inflating()?;
        }
        if self.observe {
            self.seen.push(SeenFrame {
                header: frame.header,
                inflated: self.seen_inflated.take(),
                prefix: std::mem::take(&mut self.seen_prefix),
            });
        }
        self.finish_frame(&frame.header)
    }

    /// The message being assembled, and how many payload bytes the current
    /// text or binary frame still needs, for a caller that reads them
    /// straight from its stream onto the end of the message (a large payload
    /// then costs no copy and no large read buffer), then reports how many
    /// with [`payload_appended`](Self::payload_appended). The caller must
    /// only append, and at most the number of bytes given. `None` when no data
    /// frame's payload is expected.
    pub fn payload_buffer(&mut self) -> Option<(&mut Vec<u8>, usize)> {
        let frame = self.frame?;
        if frame.header.opcode.is_control() || self.failed.is_some() {
            return None;
        }
        if self.message.as_ref().is_some_and(|m| m.compressed) {
            return None;
        }
        let needed = frame.remaining.min(usize::MAX as u64) as usize;
        self.message.as_mut().map(|m| (&mut m.data, needed))
    }

    /// Takes the `appended` bytes the caller added to the end of the buffer
    /// [`payload_buffer`](Self::payload_buffer) gave: they are unmasked and
    /// checked as if passed to [`receive`](Self::receive).
    pub fn payload_appended(&mut self, appended: usize) -> Result<Option<Message>, Violation> {
        let (Some(frame), Some(message)) = (self.frame, self.message.as_mut()) else {
            return Ok(None);
        };
        if appended == 0 {
            return Ok(None);
        }
        let start = message.data.len() - appended;
        let result = self
            .check_appended(&frame, start)
            .and_then(|_| self.advance(frame, appended));
        if let Err(violation) = result {
            self.fail(violation);
        }
        result
    }

    /// Decodes the next header from `data` (and any bytes of it kept from
    /// earlier calls), and checks it against the connection's state.
    fn read_header(&mut self, data: &[u8]) -> Result<(usize, Option<FrameInProgress>), Violation> {
        let kept = self.header_len;
        let parsed = if kept == 0 {
            FrameHeader::parse(data)?
        } else {
            let add = (MAX_HEADER_LEN - kept).min(data.len());
            self.header[kept..kept + add].copy_from_slice(&data[..add]);
            FrameHeader::parse(&self.header[..kept + add])?
        };
        let Some((header, header_len)) = parsed else {
            // An incomplete header is shorter than 14 bytes, so all of `data`
            // fits beside what was kept.
            if kept == 0 {
                self.header[..data.len()].copy_from_slice(data);
            }
            self.header_len = kept + data.len();
            return Ok((data.len(), None));
        };
        self.header_len = 0;
        if self.observe {
            self.seen_prefix.clear();
        }
        self.check_header(&header)?;
        Ok((
            header_len - kept,
            Some(FrameInProgress {
                header,
                remaining: header.payload_len,
                read: 0,
            }),
        ))
    }

    /// The rules that depend on the connection: role, extensions,
    /// fragmentation state, limits.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), Violation> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(Violation::UnmaskedClientFrame),
            (Role::Client, true) => return Err(Violation::MaskedServerFrame),
            _ => {}
        }
        // RSV1 only on the first frame of a message, and only with the
        // extension (RFC 7692 section 6.1); RSV2 and RSV3 never.
        let compressed = header.rsv == RSV1
            && self.inflate.is_some()
            && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv != 0 && !compressed {
            return Err(Violation::ReservedBits(header.rsv));
        }
        if header.payload_len > self.limits.max_frame_size as u64 {
            return Err(Violation::FrameTooBig {
                len: header.payload_len,
                max: self.limits.max_frame_size,
            });
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(Violation::ExpectedContinuation);
                }
                if !compressed {
                    self.check_message_size(0, header.payload_len)?;
                }
                let in_parts = self
                    .parts_from
                    .is_some_and(|from| header.payload_len >= from);
                // Parts are handed over as they arrive: nothing to reserve.
                let upfront = match in_parts || compressed {
                    true => 0,
                    false => (header.payload_len as usize).min(MAX_UPFRONT_RESERVE),
                };
                self.message = Some(MessageInProgress {
                    text: header.opcode == OpCode::Text,
                    data: Vec::with_capacity(upfront),
                    utf8: Utf8Validator::new(),
                    streaming_utf8: false,
                    in_parts,
                    len: 0,
                    started: false,
                    compressed,
                });
            }
            OpCode::Continuation => {
                let Some(message) = &self.message else {
                    return Err(Violation::UnexpectedContinuation);
                };
                // A compressed message is counted as it inflates.
                if !message.compressed {
                    self.check_message_size(message.len, header.payload_len)?;
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => self.control.clear(),
        }
        Ok(())
    }

    fn check_message_size(&self, so_far: u64, frame_len: u64) -> Result<(), Violation> {
        let len = so_far + frame_len;
        if len > self.limits.max_message_size as u64 {
            return Err(Violation::MessageTooBig {
                len,
                max: self.limits.max_message_size,
            });
        }
        Ok(())
    }

    /// Stores a piece of the current frame's payload, unmasked, and checks
    /// text as it arrives.
    fn take_payload(&mut self, frame: &FrameInProgress, piece: &[u8]) -> Result<(), Violation> {
        let header = &frame.header;
        if header.opcode.is_control() {
            let start = self.control.len();
            self.control.extend_from_slice(piece);
            if let Some(key) = header.mask {
                apply_mask(&mut self.control[start..], key, frame.read as usize);
            }
            if self.observe {
                keep_prefix(&mut self.seen_prefix, &self.control[start..]);
            }
            return Ok(());
        }
        let Some(message) = &mut self.message else {
            return Ok(()); // unreachable: check_header started the message
        };
        let start = message.data.len();
        if message.compressed {
            return self.inflate_piece(frame, piece);
        }
        message.data.extend_from_slice(piece);
        self.check_appended(frame, start)
    }

    /// Unmasks and inflates a piece of a compressed message's payload onto
    /// the message, within what is left of the message limit.
    fn inflate_piece(&mut self, frame: &FrameInProgress, piece: &[u8]) -> Result<(), Violation> {
        let (Some(message), Some(inflate)) = (&mut self.message, &mut self.inflate) else {
            return Ok(());
        };
        inflate.scratch.clear();
        inflate.scratch.extend_from_slice(piece);
        if let Some(key) = frame.header.mask {
            apply_mask(&mut inflate.scratch, key, frame.read as usize);
        }
        if self.observe {
            keep_prefix(&mut self.seen_prefix, &inflate.scratch);
        }
        let start = message.data.len();
        let limit = message_room(message, self.limits.max_message_size);
        let bits = inflate_window_bits(inflate.direction);
        let inflater = match &mut inflate.inflater {
            Some(inflater) => inflater,
            slot => slot.insert(Inflater::new(bits).map_err(Violation::BadCompressedData)?),
        };
        let result = inflater.inflate(&inflate.scratch, &mut message.data, limit);
        if inflate.scratch.capacity() > MAX_SCRATCH {
            inflate.scratch = Vec::new();
        }
        result.map_err(|e| inflate_violation(e, self.limits.max_message_size))?;
        self.accept(start, false)
    }

    /// Ends a compressed message: inflates the sync-flush tail the sender
    /// removed (RFC 7692 section 7.2.2) and, if the peer keeps no context,
    /// forgets the window.
    fn finish_inflating(&mut self) -> Result<(), Violation> {
        let (Some(message), Some(inflate)) = (&mut self.message, &mut self.inflate) else {
            return Ok(());
        };
        let start = message.data.len();
        let limit = message_room(message, self.limits.max_message_size);
        let bits = inflate_window_bits(inflate.direction);
        let inflater = match &mut inflate.inflater {
            Some(inflater) => inflater,
            slot => slot.insert(Inflater::new(bits).map_err(Violation::BadCompressedData)?),
        };
        let result = inflater.finish_message(&mut message.data, limit);
        if inflate.direction.no_context_takeover {
            inflate.inflater = None;
        }
        // Between messages a connection holds its window and nothing else.
        inflate.scratch = Vec::new();
        result.map_err(|e| inflate_violation(e, self.limits.max_message_size))?;
        self.accept(start, false)
    }

    /// Unmasks the payload bytes appended to the message from `start` on,
    /// and checks them if the message is text.
    fn check_appended(&mut self, frame: &FrameInProgress, start: usize) -> Result<(), Violation> {
        let header = &frame.header;
        let Some(message) = &mut self.message else {
            return Ok(());
        };
        if let Some(key) = header.mask {
            apply_mask(&mut message.data[start..], key, frame.read as usize);
        }
        if self.observe {
            keep_prefix(&mut self.seen_prefix, &message.data[start..]);
        }
        let appended = (message.data.len() - start) as u64;
        let whole_message_at_once = header.fin
            && !message.in_parts
            && message.len + appended == header.payload_len
            && appended == header.payload_len;
        self.accept(start, whole_message_at_once)
    }

    /// Takes the message bytes from `start` on, unmasked and inflated:
    /// counts them, checks text as it arrives (unless the whole message
    /// came at once, which is checked at its end), and makes a part of
    /// them when the message goes in parts.
    fn accept(&mut self, start: usize, whole_message_at_once: bool) -> Result<(), Violation> {
        let Some(message) = &mut self.message else {
            return Ok(());
        };
        let appended = message.data.len() - start;
        if self.observe && message.compressed {
            *self.seen_inflated.get_or_insert(0) += appended as u64;
        }
        message.len += appended as u64;
        if message.text && !whole_message_at_once {
            message.streaming_utf8 = true;
            message
                .utf8
                .feed(&message.data[start..])
                .map_err(|_| Violation::InvalidUtf8)?;
        }
        // Checked bytes become a part once the message is large enough.
        if let Some(from) = self.parts_from {
            if !message.in_parts && message.len >= from {
                message.in_parts = true;
            }
            if message.in_parts && !message.data.is_empty() {
                match &mut self.part {
                    Some(part) => {
                        part.data.extend_from_slice(&message.data);
                        message.data.clear();
                    }
                    None => {
                        self.part = Some(MessagePart {
                            text: message.text,
                            data: std::mem::take(&mut message.data),
                            first: !message.started,
                            last: false,
                        });
                    }
                }
                message.started = true;
            }
        }
        Ok(())
    }

    /// Acts on a frame whose payload is complete.
    fn finish_frame(&mut self, header: &FrameHeader) -> Result<Option<Message>, Violation> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Message::Ping(self.control.clone()))),
            OpCode::Pong => Ok(Some(Message::Pong(self.control.clone()))),
            OpCode::Close => {
                let frame = parse_close_payload(&self.control).map_err(Violation::BadClose)?;
                self.close_received = true;
                Ok(Some(Message::Close(frame)))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if !header.fin {
                    return Ok(None);
                }
                let Some(message) = self.message.take() else {
                    return Ok(None);
                };
                if message.in_parts {
                    if message.text {
                        message.utf8.finish().map_err(|_| Violation::InvalidUtf8)?;
                    }
                    let part = self.part.get_or_insert_with(|| MessagePart {
                        text: message.text,
                        data: Vec::new(),
                        first: !message.started,
                        last: false,
                    });
                    part.last = true;
                    return Ok(None);
                }
                if !message.text {
                    return Ok(Some(Message::Binary(message.data)));
                }
                if message.streaming_utf8 {
                    message.utf8.finish().map_err(|_| Violation::InvalidUtf8)?;
                }
                String::from_utf8(message.data)
                    .map(|text| Some(Message::Text(text)))
                    .map_err(|_| Violation::InvalidUtf8)
            }
        }
    }
}

/// The window to inflate with: the agreed one, but at least 2^9 bytes.
/// zlib cannot compress with a 2^8 window and silently uses 2^9 when asked
/// for 8 bits, so zlib-based peers that agreed 8 send references up to 512
/// bytes back; accepting them costs 256 bytes.
fn inflate_window_bits(direction: Direction) -> u8 {
    direction.window_bits.clamp(9, 15)
}

/// The largest scratch buffer kept between frames for compressed payload.
const MAX_SCRATCH: usize = 64 * 1024;

/// How large `message.data` may grow before the message passes `max`.
fn message_room(message: &MessageInProgress, max: usize) -> usize {
    let left = (max as u64).saturating_sub(message.len);
    message
        .data
        .len()
        .saturating_add(left.min(usize::MAX as u64) as usize)
}

/// The violation for an inflater's error: past the limit is 1009, data
/// that does not inflate is 1002.
fn inflate_violation(e: DeflateError, max: usize) -> Violation {
    match e {
        DeflateError::OutputLimit { .. } => Violation::MessageTooBig {
            len: (max as u64).saturating_add(1),
            max,
        },
        other => Violation::BadCompressedData(other),
    }
}

fn keep_prefix(prefix: &mut Vec<u8>, bytes: &[u8]) {
    let room = SeenFrame::PREFIX.saturating_sub(prefix.len());
    prefix.extend_from_slice(&bytes[..room.min(bytes.len())]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::mask::mask_into;

    fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let header = FrameHeader::new(
            OpCode::from_bits(opcode).unwrap(),
            payload.len() as u64,
            Some(key),
        );
        let mut out = header.encode().as_bytes().to_vec();
        let start = out.len();
        out.resize(start + payload.len(), 0);
        mask_into(&mut out[start..], payload, key, 0);
        out
    }

    /// Feeds the header and first `head` payload bytes through `receive`, the
    /// rest through `payload_buffer` in pieces of `piece` bytes.
    fn receive_direct(
        wire: &[u8],
        head: usize,
        piece: usize,
    ) -> Result<Option<Message>, Violation> {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let header_len = FrameHeader::parse(wire).unwrap().unwrap().1;
        let (used, message) = rx.receive(&wire[..header_len + head])?;
        assert_eq!((used, message), (header_len + head, None));
        let mut rest = &wire[header_len + head..];
        while !rest.is_empty() {
            let (data, needed) = rx.payload_buffer().expect("a data frame is in progress");
            let n = needed.min(piece).min(rest.len());
            data.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if let Some(message) = rx.payload_appended(n)? {
                assert!(rest.is_empty());
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    #[test]
    fn payloads_read_straight_into_the_message_are_unmasked_at_the_right_phase() {
        let text: String = (0..100_000).map(|i| ['a', 'é', '€', '𝄞'][i % 4]).collect();
        let wire = masked_frame(1, text.as_bytes(), [1, 2, 3, 4]);
        for (head, piece) in [(0, 4096), (3, 1000), (5, 7), (1, 65536)] {
            assert_eq!(
                receive_direct(&wire, head, piece),
                Ok(Some(Message::Text(text.clone()))),
                "{head} {piece}"
            );
        }
        let binary: Vec<u8> = (0..70_000).map(|i| (i * 13) as u8).collect();
        let wire = masked_frame(2, &binary, [9, 8, 7, 6]);
        assert_eq!(
            receive_direct(&wire, 2, 333),
            Ok(Some(Message::Binary(binary)))
        );
    }

    #[test]
    fn invalid_utf8_read_straight_into_the_message_fails_in_the_piece_that_brings_it() {
        let mut text = "a".repeat(50_000).into_bytes();
        text[20_000] = 0xff;
        let wire = masked_frame(1, &text, [5, 6, 7, 8]);
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let header_len = FrameHeader::parse(&wire).unwrap().unwrap().1;
        rx.receive(&wire[..header_len]).unwrap();
        let (data, _) = rx.payload_buffer().unwrap();
        data.extend_from_slice(&wire[header_len..header_len + 10_000]);
        assert_eq!(rx.payload_appended(10_000), Ok(None));
        let (data, _) = rx.payload_buffer().unwrap();
        data.extend_from_slice(&wire[header_len + 10_000..header_len + 25_000]);
        assert_eq!(rx.payload_appended(15_000), Err(Violation::InvalidUtf8));
        assert_eq!(rx.receive(b"more"), Err(Violation::InvalidUtf8));
        assert!(rx.payload_buffer().is_none());
    }

    #[test]
    fn payloads_appended_by_the_caller_are_unmasked_in_place() {
        let payload: Vec<u8> = (0..50_000).map(|i| (i * 7) as u8).collect();
        let wire = masked_frame(2, &payload, [3, 1, 4, 1]);
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let header_len = FrameHeader::parse(&wire).unwrap().unwrap().1;
        rx.receive(&wire[..header_len + 1]).unwrap();
        let mut rest = &wire[header_len + 1..];
        let mut result = Ok(None);
        while !rest.is_empty() {
            let (data, needed) = rx.payload_buffer().expect("a data frame is in progress");
            assert_eq!(needed, rest.len());
            let n = needed.min(4099);
            data.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            result = rx.payload_appended(n);
        }
        assert_eq!(result, Ok(Some(Message::Binary(payload))));
        assert!(rx.payload_buffer().is_none());
    }

    /// Feeds `wire` in pieces of `piece` bytes with parts from `from` bytes
    /// on; returns the whole messages and parts in the order they came.
    fn receive_in_parts(
        wire: &[u8],
        from: usize,
        piece: usize,
    ) -> (Vec<Message>, Vec<MessagePart>, Option<Violation>) {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        rx.deliver_parts_from(Some(from));
        let (mut messages, mut parts) = (Vec::new(), Vec::new());
        let mut rest = wire;
        while !rest.is_empty() {
            let n = piece.min(rest.len());
            let mut chunk = &rest[..n];
            while !chunk.is_empty() {
                match rx.receive(chunk) {
                    Ok((used, message)) => {
                        assert!(used > 0, "progress");
                        messages.extend(message);
                        parts.extend(rx.take_part());
                        chunk = &chunk[used..];
                    }
                    Err(violation) => return (messages, parts, Some(violation)),
                }
            }
            rest = &rest[n..];
        }
        (messages, parts, None)
    }

    fn joined(parts: &[MessagePart]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.data.iter().copied()).collect()
    }

    #[test]
    fn a_large_frame_is_handed_over_in_parts_as_it_arrives() {
        let payload: Vec<u8> = (0..10_000).map(|i| (i * 31) as u8).collect();
        let wire = masked_frame(2, &payload, [4, 3, 2, 1]);
        let (messages, parts, failed) = receive_in_parts(&wire, 1000, 1500);
        assert_eq!((messages, failed), (vec![], None));
        assert!(parts.len() >= 6, "one part per piece read: {parts:?}");
        assert!(parts[0].first && parts.iter().skip(1).all(|p| !p.first));
        assert!(parts.last().unwrap().last);
        assert!(parts.iter().rev().skip(1).all(|p| !p.last && !p.text));
        assert_eq!(joined(&parts), payload);
    }

    #[test]
    fn small_messages_stay_whole_when_parts_are_on() {
        let wire = masked_frame(1, b"small", [1, 1, 1, 1]);
        let (messages, parts, failed) = receive_in_parts(&wire, 1000, 2);
        assert_eq!(
            (messages, parts, failed),
            (vec![Message::text("small")], vec![], None)
        );
    }

    #[test]
    fn a_fragmented_message_goes_in_parts_once_it_is_large_enough() {
        // Ten unfragmented-looking fragments of 300 bytes, a ping between.
        let mut wire = Vec::new();
        for i in 0..10u8 {
            let opcode = if i == 0 { 0x02 } else { 0x00 };
            let mut frame = masked_frame(opcode, &[i; 300], [7, 7, 7, 7]);
            if i < 9 {
                frame[0] &= 0x7f; // not FIN
            }
            wire.extend(frame);
            if i == 4 {
                wire.extend(masked_frame(0x9, b"hi", [1, 2, 3, 4]));
            }
        }
        let (messages, parts, failed) = receive_in_parts(&wire, 1000, 4096);
        assert_eq!(failed, None);
        assert_eq!(messages, vec![Message::Ping(b"hi".to_vec())]);
        // The first 900 bytes are held; the fourth fragment makes a part,
        // which the fifth, already at hand, joins; the ping ends it.
        assert_eq!(parts[0].data.len(), 1500);
        assert!(parts[0].first && !parts[0].last && parts.last().unwrap().last);
        let expected: Vec<u8> = (0..10u8).flat_map(|i| [i; 300]).collect();
        assert_eq!(joined(&parts), expected);
    }

    #[test]
    fn a_burst_of_small_fragments_makes_one_part() {
        let mut wire = masked_frame(0x02, &[0; 1000], [1, 2, 3, 4]);
        wire[0] &= 0x7f; // not FIN
        for i in 1..=500u16 {
            let mut frame = masked_frame(0x00, &[i as u8], [5, 6, 7, 8]);
            if i < 500 {
                frame[0] &= 0x7f;
            }
            wire.extend(frame);
        }
        // In one piece: one part for the whole message.
        let (_, parts, failed) = receive_in_parts(&wire, 100, wire.len());
        assert_eq!(failed, None);
        assert_eq!(parts.len(), 1, "{parts:?}");
        assert_eq!(parts[0].data.len(), 1500);
        assert!(parts[0].first && parts[0].last);
        // A ping among them ends the part before it.
        let ping = masked_frame(0x9, b"p", [0, 0, 0, 1]);
        let at = wire.len() - 7 * 250;
        wire.splice(at..at, ping);
        let (messages, parts, failed) = receive_in_parts(&wire, 100, wire.len());
        assert_eq!(failed, None);
        assert_eq!(messages, vec![Message::Ping(b"p".to_vec())]);
        let sizes: Vec<usize> = parts.iter().map(|p| p.data.len()).collect();
        assert_eq!(sizes, [1250, 250]);
    }

    #[test]
    fn text_parts_may_split_a_character_but_invalid_utf8_fails_first() {
        let text = "€".repeat(1000); // 3 bytes each: pieces of 1000 split them
        let wire = masked_frame(1, text.as_bytes(), [9, 9, 9, 9]);
        let (_, parts, failed) = receive_in_parts(&wire, 100, 1000);
        assert_eq!(failed, None);
        assert!(parts.iter().all(|p| p.text));
        assert_eq!(joined(&parts), text.as_bytes());

        let mut bad = text.clone().into_bytes();
        bad[2500] = 0xff;
        let wire = masked_frame(1, &bad, [9, 9, 9, 9]);
        let (_, parts, failed) = receive_in_parts(&wire, 100, 1000);
        assert_eq!(failed, Some(Violation::InvalidUtf8));
        assert!(
            joined(&parts).len() <= 2000,
            "the piece with 0xff is never handed over"
        );

        // A character cut off by the end of the message fails at the end.
        let wire = masked_frame(1, &text.as_bytes()[..2999], [9, 9, 9, 9]);
        let (_, _, failed) = receive_in_parts(&wire, 100, 1000);
        assert_eq!(failed, Some(Violation::InvalidUtf8));
    }

    #[test]
    fn the_message_limit_counts_parts_already_handed_over() {
        let mut rx = Receiver::new(
            Role::Server,
            Limits {
                max_frame_size: 1000,
                max_message_size: 1500,
            },
        );
        rx.deliver_parts_from(Some(100));
        let mut first = masked_frame(2, &[1; 1000], [0, 0, 0, 0]);
        first[0] &= 0x7f;
        assert_eq!(rx.receive(&first), Ok((first.len(), None)));
        assert_eq!(rx.take_part().map(|p| p.data.len()), Some(1000));
        let second = masked_frame(0, &[1; 600], [0, 0, 0, 0]);
        assert_eq!(
            rx.receive(&second),
            Err(Violation::MessageTooBig {
                len: 1600,
                max: 1500
            })
        );
    }

    #[test]
    fn parts_read_straight_from_the_stream_are_unmasked_at_the_right_phase() {
        let payload: Vec<u8> = (0..50_000).map(|i| (i * 7) as u8).collect();
        let wire = masked_frame(2, &payload, [3, 1, 4, 1]);
        let mut rx = Receiver::new(Role::Server, Limits::default());
        rx.deliver_parts_from(Some(10_000));
        let header_len = FrameHeader::parse(&wire).unwrap().unwrap().1;
        rx.receive(&wire[..header_len + 3]).unwrap();
        let mut parts: Vec<MessagePart> = rx.take_part().into_iter().collect();
        let mut rest = &wire[header_len + 3..];
        while !rest.is_empty() {
            let (data, needed) = rx.payload_buffer().expect("a data frame is in progress");
            let n = needed.min(4099);
            data.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            assert_eq!(rx.payload_appended(n), Ok(None));
            parts.extend(rx.take_part());
        }
        assert_eq!(joined(&parts), payload);
        assert!(parts[0].first && parts.last().unwrap().last);
    }

    #[test]
    fn the_rest_of_a_payload_read_directly_can_come_through_receive() {
        let payload = vec![7u8; 20_000];
        let wire = masked_frame(2, &payload, [0, 0, 0, 0]);
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let header_len = FrameHeader::parse(&wire).unwrap().unwrap().1;
        rx.receive(&wire[..header_len]).unwrap();
        let (data, needed) = rx.payload_buffer().unwrap();
        assert_eq!(needed, 20_000);
        data.extend_from_slice(&wire[header_len..header_len + 100]);
        assert_eq!(rx.payload_appended(100), Ok(None));
        assert_eq!(rx.payload_remaining(), 19_900);
        assert_eq!(
            rx.receive(&wire[header_len + 100..]),
            Ok((19_900, Some(Message::Binary(payload))))
        );
    }
}

#[cfg(test)]
mod compression_tests {
    use super::*;
    use crate::deflate::{Deflater, Level};
    use crate::protocol::mask::mask_into;

    const TAKEOVER: Direction = Direction {
        window_bits: 15,
        no_context_takeover: false,
    };

    fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let opcode = OpCode::from_bits(b0 & 0x0f).unwrap();
        let mut header = FrameHeader::new(opcode, payload.len() as u64, Some([1, 2, 3, 4]));
        header.fin = b0 & 0x80 != 0;
        header.rsv = (b0 >> 4) & 0x7;
        let mut out = header.encode().as_bytes().to_vec();
        let start = out.len();
        out.resize(start + payload.len(), 0);
        mask_into(&mut out[start..], payload, [1, 2, 3, 4], 0);
        out
    }

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut d = Deflater::new(Level::DEFAULT, 15).unwrap();
        let mut out = Vec::new();
        d.compress_message(data, &mut out);
        out.truncate(out.len() - 4);
        out
    }

    fn server(limits: Limits) -> Receiver {
        let mut rx = Receiver::new(Role::Server, limits);
        rx.set_compression(Some(TAKEOVER));
        rx
    }

    fn feed(rx: &mut Receiver, mut wire: &[u8]) -> Result<Vec<Message>, Violation> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let (used, message) = rx.receive(wire)?;
            out.extend(message);
            wire = &wire[used..];
        }
        Ok(out)
    }

    #[test]
    fn rsv1_without_the_extension_fails_with_1002() {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let err = rx.receive(&frame(0xc1, &deflated(b"Hello"))).unwrap_err();
        assert_eq!(err, Violation::ReservedBits(RSV1));
        assert_eq!(err.close_code().0, 1002);
    }

    #[test]
    fn rsv1_on_a_continuation_or_control_frame_fails_with_1002() {
        let z = deflated(b"Hello");
        let mut rx = server(Limits::default());
        let mut wire = frame(0x41, &z[..2]);
        wire.extend(frame(0xc0, &z[2..]));
        assert_eq!(feed(&mut rx, &wire), Err(Violation::ReservedBits(RSV1)));
        for control in [0xc9, 0xca, 0xc8] {
            let mut rx = server(Limits::default());
            assert_eq!(
                rx.receive(&frame(control, b"")),
                Err(Violation::ReservedBits(RSV1))
            );
        }
        // RSV2 and RSV3 stay reserved.
        let mut rx = server(Limits::default());
        assert_eq!(
            rx.receive(&frame(0xa1, b"x")),
            Err(Violation::ReservedBits(0b010))
        );
    }

    #[test]
    fn a_compressed_message_in_fragments_inflates_with_rsv1_on_the_first_only() {
        let text = "{\"hello\":\"world\"} ".repeat(100);
        let z = deflated(text.as_bytes());
        let mut wire = frame(0x41, &z[..z.len() / 3]);
        wire.extend(frame(0x09 | 0x80, b"ping")); // a ping in between
        wire.extend(frame(0x00, &z[z.len() / 3..z.len() / 2]));
        wire.extend(frame(0x80, &z[z.len() / 2..]));
        let mut rx = server(Limits::default());
        // Byte by byte, to cross every boundary.
        let mut messages = Vec::new();
        for b in &wire {
            let (used, m) = rx.receive(std::slice::from_ref(b)).unwrap();
            assert_eq!(used, 1);
            messages.extend(m);
        }
        assert_eq!(
            messages,
            [Message::Ping(b"ping".to_vec()), Message::Text(text)]
        );
        // Uncompressed messages still work beside compressed ones.
        assert_eq!(
            feed(&mut rx, &frame(0x82, b"raw")),
            Ok(vec![Message::Binary(b"raw".to_vec())])
        );
    }

    #[test]
    fn the_empty_message_and_context_takeover_inflate() {
        let mut rx = server(Limits::default());
        // RFC 7692 7.2.3.6 and 7.2.3.2.
        let mut wire = frame(0xc1, &[0x00]);
        wire.extend(frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
        wire.extend(frame(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
        assert_eq!(
            feed(&mut rx, &wire),
            Ok(vec![
                Message::text(""),
                Message::text("Hello"),
                Message::text("Hello")
            ])
        );
    }

    #[test]
    fn a_decompression_bomb_fails_with_1009_before_the_memory_is_spent() {
        let bomb = deflated(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let limits = Limits {
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
        };
        let mut rx = server(limits);
        let err = feed(&mut rx, &frame(0xc2, &bomb)).unwrap_err();
        assert_eq!(err.close_code().0, 1009);
        // What was allocated stayed within the limit.
        assert!(rx.message.is_none());
    }

    #[test]
    fn data_that_does_not_inflate_fails_with_1002() {
        let mut rx = server(Limits::default());
        let err = rx.receive(&frame(0xc1, &[0xff, 0xff, 0xff])).unwrap_err();
        assert!(matches!(err, Violation::BadCompressedData(_)), "{err:?}");
        assert_eq!(err.close_code().0, 1002);
        // A message cut short of a block boundary.
        let mut rx = server(Limits::default());
        let z = deflated(&[7u8; 1000]);
        let err = rx.receive(&frame(0xc2, &z[..z.len() - 1])).unwrap_err();
        assert!(matches!(err, Violation::BadCompressedData(_)), "{err:?}");
    }

    #[test]
    fn compressed_text_that_is_not_utf8_fails_with_1007() {
        let mut rx = server(Limits::default());
        let err = rx
            .receive(&frame(0xc1, &deflated(&[b'a', 0xff, b'b'])))
            .unwrap_err();
        assert_eq!(err, Violation::InvalidUtf8);
    }

    #[test]
    fn parts_of_a_compressed_message_hold_inflated_data() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let z = deflated(&data);
        let wire = frame(0xc2, &z);
        let mut rx = server(Limits::default());
        rx.deliver_parts_from(Some(1000));
        let mut parts = Vec::new();
        for chunk in wire.chunks(777) {
            let mut chunk = chunk;
            while !chunk.is_empty() {
                let (used, message) = rx.receive(chunk).unwrap();
                assert_eq!(message, None);
                parts.extend(rx.take_part());
                chunk = &chunk[used..];
            }
        }
        assert!(parts.len() > 1);
        assert!(parts[0].first && parts.last().unwrap().last);
        let joined: Vec<u8> = parts.into_iter().flat_map(|p| p.data).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn without_peer_context_takeover_no_window_is_held_between_messages() {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        rx.set_compression(Some(Direction {
            window_bits: 12,
            no_context_takeover: true,
        }));
        let mut d = Deflater::new(Level::DEFAULT, 12).unwrap();
        let mut z = Vec::new();
        d.compress_message(&[b'x'; 5000], &mut z);
        z.truncate(z.len() - 4);
        assert_eq!(
            feed(&mut rx, &frame(0xc2, &z)),
            Ok(vec![Message::Binary(vec![b'x'; 5000])])
        );
        assert!(
            rx.compression_bytes() <= MAX_SCRATCH,
            "{}",
            rx.compression_bytes()
        );
        assert!(rx.inflate.as_ref().unwrap().inflater.is_none());
    }

    #[test]
    fn a_compressed_message_is_never_offered_for_direct_reads() {
        let z = deflated(&[1u8; 100_000]);
        let wire = frame(0xc2, &z);
        let mut rx = server(Limits::default());
        rx.receive(&wire[..8]).unwrap();
        assert!(rx.payload_buffer().is_none());
    }
}

#[cfg(test)]
mod compression_memory {
    use super::*;
    use crate::deflate::{Deflater, Level};

    /// What a server connection's decompressor holds between messages at
    /// the defaults (a 2^12 window, the client keeping its context), for
    /// the figure in the `extension` module docs.
    #[test]
    fn an_idle_connection_holds_one_small_window() {
        let mut rx = Receiver::new(Role::Client, Limits::default());
        rx.set_compression(Some(Direction {
            window_bits: 12,
            no_context_takeover: false,
        }));
        let mut d = Deflater::new(Level::DEFAULT, 12).unwrap();
        let json = "{\"type\":\"update\",\"id\":12345,\"values\":[1,2,3]}".repeat(100);
        for _ in 0..10 {
            let mut z = Vec::new();
            d.compress_message(json.as_bytes(), &mut z);
            z.truncate(z.len() - 4);
            let mut header = FrameHeader::new(OpCode::Text, z.len() as u64, None);
            header.rsv = RSV1;
            let mut wire = header.encode().as_bytes().to_vec();
            wire.extend_from_slice(&z);
            assert!(matches!(rx.receive(&wire), Ok((_, Some(_)))));
        }
        let held = rx.compression_bytes();
        eprintln!("decompressor bytes held between messages: {held}");
        // The 4 KiB window and nothing else: its decode tables and the
        // scratch for masked input are freed when a message ends.
        assert_eq!(held, 1 << 12);
    }
}
