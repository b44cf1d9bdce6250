//! A TCP proxy that injects network faults between the functions and a
//! dependency (DynamoDB Local, the Twilio fake). Faults apply to connections
//! already open (the SDK's pooled ones) as well as to new ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every chunk towards the dependency waits this long.
    Latency(Duration),
    /// Connections are taken and bytes are held, unanswered, until the
    /// fault ends: a dependency that stalls.
    Pause,
    /// Open connections are reset, new ones are reset once accepted: a
    /// dependency that was killed, until it is restarted (the fault ends).
    Down,
}

pub struct FaultProxy {
    address: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    /// Bumped to reset every open connection.
    resets: Arc<watch::Sender<u64>>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let fault = Arc::new(watch::Sender::new(Fault::None));
        let resets = Arc::new(watch::Sender::new(0));
        let (faults, reset_count) = (Arc::clone(&fault), Arc::clone(&resets));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watching = (faults.subscribe(), reset_count.subscribe());
                tokio::spawn(relay(client, upstream, watching));
            }
        });
        Self {
            address,
            fault,
            resets,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
        if fault == Fault::Down {
            self.reset_connections();
        }
    }

    /// Resets every open connection (new ones are served as the fault says).
    pub fn reset_connections(&self) {
        self.resets.send_modify(|count| *count += 1);
    }
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    (faults, mut resets): (watch::Receiver<Fault>, watch::Receiver<u64>),
) {
    if *faults.borrow() == Fault::Down {
        return reset(client);
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return reset(client);
    };
    resets.mark_unchanged();
    let was_reset = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        // Either side ending ends both; a reset ends both at once.
        tokio::select! {
            _ = pump(client_read, server_write, faults.clone(), true) => false,
            _ = pump(server_read, client_write, faults.clone(), false) => false,
            _ = resets.changed() => true,
        }
    };
    if was_reset {
        reset(client);
    }
}

/// Copies bytes one way, applying the fault in force to each chunk.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut faults: watch::Receiver<Fault>,
    towards_dependency: bool,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let Ok(n @ 1..) = from.read(&mut buffer).await else {
            return;
        };
        loop {
            let fault = *faults.borrow_and_update();
            match fault {
                Fault::Down => return,
                Fault::Pause => {}
                Fault::Latency(delay) if towards_dependency => {
                    tokio::time::sleep(delay).await;
                    break;
                }
                _ => break,
            }
            if faults.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// Closes with RST (no FIN), as a killed process's kernel does.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
