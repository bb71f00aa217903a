//! A whole endpoint without I/O for the rule tests: a [`Session`] that reads
//! and decides the answers, and a [`Sender`] that frames them and whatever
//! the test sends, with the answers collected as wire bytes the way a
//! single-threaded shell (`WebSocket`) writes them after each read.
#![allow(dead_code)]

use stdws::Message;
use stdws::protocol::{
    Event, Limits, Receiver, Role, SendError, Sender, Session, State, Violation,
};
use stdws::{CloseCode, CloseFrame};

#[derive(Debug)]
pub struct Peer {
    session: Session,
    sender: Sender,
    output: Vec<u8>,
}

impl Peer {
    pub fn new(role: Role, limits: Limits) -> Peer {
        Peer {
            session: Session::new(role, limits),
            sender: Sender::new(role),
            output: Vec::new(),
        }
    }

    fn answer(&mut self) {
        while let Some(answer) = self.session.take_answer() {
            answer.encode(&mut self.sender, &mut self.output);
        }
    }

    fn message(event: Option<Event>) -> Option<Message> {
        match event {
            Some(Event::Message(message)) => Some(message),
            // The rule tests never ask for parts.
            Some(Event::Part(part)) => panic!("unexpected part {part:?}"),
            None => None,
        }
    }

    pub fn receive(&mut self, data: &[u8]) -> Result<(usize, Option<Message>), Violation> {
        let result = self.session.receive(data);
        self.answer();
        let (used, event) = result?;
        Ok((used, Self::message(event)))
    }

    pub fn payload_appended(&mut self, appended: usize) -> Result<Option<Message>, Violation> {
        let result = self.session.payload_appended(appended);
        self.answer();
        Ok(Self::message(result?))
    }

    pub fn fail(&mut self, violation: Violation) {
        self.session.fail(violation);
        self.answer();
    }

    pub fn send(&mut self, message: &Message, out: &mut Vec<u8>) -> Result<(), SendError> {
        use stdws::protocol::frame::OpCode;
        let (opcode, payload): (OpCode, &[u8]) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(frame) => return self.close(frame.clone(), out),
        };
        self.sender.encode(opcode, true, payload, out)
    }

    pub fn close(&mut self, frame: Option<CloseFrame>, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.sender.encode_close(frame.as_ref(), out)?;
        self.session.sent_close();
        Ok(())
    }

    pub fn receive_eof(&mut self) -> CloseCode {
        self.session.receive_eof()
    }

    pub fn output(&self) -> &[u8] {
        &self.output
    }

    pub fn clear_output(&mut self) {
        self.output.clear();
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn state(&self) -> State {
        self.session.state()
    }

    pub fn failure(&self) -> Option<Violation> {
        self.session.failure()
    }

    pub fn role(&self) -> Role {
        self.session.role()
    }

    pub fn receiver_mut(&mut self) -> &mut Receiver {
        self.session.receiver_mut()
    }

    pub fn sender_mut(&mut self) -> &mut Sender {
        &mut self.sender
    }

    pub fn is_idle(&self) -> bool {
        self.session.is_idle()
    }
}
