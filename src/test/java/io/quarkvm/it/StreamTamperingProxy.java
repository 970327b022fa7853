package io.quarkvm.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * Stands between two nodes on loopback and damages what the client sends after {@code offset} bytes of the
 * connection: cuts it there (both directions close), or flips that one byte and passes everything on. The answer
 * comes back untouched. One connection at a time, each damaged the same way.
 */
final class StreamTamperingProxy implements AutoCloseable {

    enum Damage { CUT, FLIP_BYTE }

    private final ServerSocket listener;
    /** Set once the node behind it has its port, before any connection comes. */
    private volatile int targetPort;
    private final long offset;
    private final Damage damage;
    private final Thread acceptor;

    StreamTamperingProxy(long offset, Damage damage) throws IOException {
        this.listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        this.offset = offset;
        this.damage = damage;
        this.acceptor = new Thread(this::acceptAll, "tampering-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    void forwardTo(int port) {
        targetPort = port;
    }

    private void acceptAll() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                pump(server.getInputStream(), client.getOutputStream(), Long.MAX_VALUE, null, client, server);
                pump(client.getInputStream(), server.getOutputStream(), offset, damage, client, server);
            } catch (IOException closed) {
                return;
            }
        }
    }

    /** Copies in its own thread; at {@code damageAt} bytes it applies {@code damageThere}. */
    private static void pump(InputStream from, OutputStream to, long damageAt, Damage damageThere, Socket... both) {
        Thread pump = new Thread(() -> {
            byte[] buffer = new byte[8192];
            long copied = 0;
            try {
                for (int read; (read = from.read(buffer)) >= 0; ) {
                    if (damageThere != null && copied <= damageAt && damageAt < copied + read) {
                        int at = (int) (damageAt - copied);
                        if (damageThere == Damage.CUT) {
                            to.write(buffer, 0, at);
                            to.flush();
                            break;
                        }
                        buffer[at] ^= (byte) 0xFF;
                    }
                    to.write(buffer, 0, read);
                    to.flush();
                    copied += read;
                }
            } catch (IOException ended) {
                // the other side closed: so does this one
            }
            for (Socket socket : both) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }, "tampering-proxy-pump");
        pump.setDaemon(true);
        pump.start();
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
