//! A recording HTTP/1.1 proxy for mk-rds' tests: between the tool and the
//! simulation (or the emulator) it keeps the form of each request (the
//! query protocol's `application/x-www-form-urlencoded` body), so a test can
//! assert what the tool sent where the emulator keeps no trace of it
//! (`ApplyImmediately`, `EngineLifecycleSupport`). A `MasterUserPassword` is
//! never kept. Handles what the RDS and EC2 clients send: requests and
//! answers framed by `Content-Length`, keep-alive.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request's form fields.
pub type Form = BTreeMap<String, String>;

pub struct Recorder {
    url: String,
    forms: Arc<Mutex<Vec<Form>>>,
}

impl Recorder {
    /// Listens on a free loopback port and relays to `upstream`
    /// (`http://127.0.0.1:PORT`), for as long as the test process lives.
    pub fn start(upstream: &str) -> Recorder {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let forms = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&forms);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, kept) = (upstream.clone(), Arc::clone(&kept));
                std::thread::spawn(move || {
                    let _ = relay(client, &upstream, &kept);
                });
            }
        });
        Recorder { url, forms }
    }

    /// The endpoint to give the tool (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The forms of the calls of `action` (e.g. `ModifyDBInstance`) naming
    /// `field=value`, in the order sent.
    pub fn calls(&self, action: &str, field: &str, value: &str) -> Vec<Form> {
        let forms = self.forms.lock().expect("the recorder's lock");
        forms
            .iter()
            .filter(|f| f.get("Action").map(String::as_str) == Some(action))
            .filter(|f| f.get(field).map(String::as_str) == Some(value))
            .cloned()
            .collect()
    }
}

/// The values of a list parameter (`VpcSecurityGroupIds.VpcSecurityGroupId.N`).
pub fn list(form: &Form, prefix: &str) -> Vec<String> {
    form.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
}

fn relay(client: TcpStream, upstream: &str, forms: &Mutex<Vec<Form>>) -> io::Result<()> {
    let up = TcpStream::connect(upstream)?;
    let (mut from_client, mut to_client) = (BufReader::new(client.try_clone()?), client);
    let (mut from_up, mut to_up) = (BufReader::new(up.try_clone()?), up);
    while let Some((head, body)) = message(&mut from_client)? {
        forms.lock().expect("the recorder's lock").push(form(&body));
        to_up.write_all(&head)?;
        to_up.write_all(&body)?;
        let Some((head, body)) = message(&mut from_up)? else { return Ok(()) };
        to_client.write_all(&head)?;
        to_client.write_all(&body)?;
    }
    Ok(())
}

/// One HTTP message: its head (through the empty line) and its body;
/// `None` at a clean end of the connection.
fn message(r: &mut impl BufRead) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if text.contains("transfer-encoding: chunked") {
        return Err(io::Error::other("chunked messages are not supported"));
    }
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(Ok(0), |v| v.trim().parse::<usize>().map_err(io::Error::other))?;
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn form(body: &[u8]) -> Form {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let (k, v) = (decode(k), decode(v));
            let v = if k == "MasterUserPassword" { "(not kept)".to_owned() } else { v };
            (k, v)
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
