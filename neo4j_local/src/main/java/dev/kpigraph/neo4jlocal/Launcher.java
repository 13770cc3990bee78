package dev.kpigraph.neo4jlocal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Runs Neo4j Community in-process with the Bolt connector on 127.0.0.1, for machines without
 * Docker. Authentication is off: the connector listens on loopback only.
 *
 * <pre>
 * java [JVM flags] -cp CLASSPATH dev.kpigraph.neo4jlocal.Launcher --port 7687 --data DIR \
 *      [--pagecache-mb 256] [--tx-max-mb 0]
 * </pre>
 *
 * Prints one line {@code READY bolt://127.0.0.1:PORT} once Bolt accepts connections, and shuts
 * the database down cleanly on SIGTERM / SIGINT.
 */
public final class Launcher {

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        int port = 7687;
        Path data = Path.of("neo4j-data");
        long pagecacheMb = 256;
        long txMaxMb = 0;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--port" -> { port = Integer.parseInt(require(args[i], value)); i++; }
                case "--data" -> { data = Path.of(require(args[i], value)); i++; }
                case "--pagecache-mb" -> { pagecacheMb = Long.parseLong(require(args[i], value)); i++; }
                case "--tx-max-mb" -> { txMaxMb = Long.parseLong(require(args[i], value)); i++; }
                default -> fail("unknown argument " + args[i]);
            }
        }
        if (port < 1 || port > 65535) {
            fail("port must be between 1 and 65535");
        }
        if (!portFree(port)) {
            fail("port " + port + " on 127.0.0.1 is already in use");
        }
        Path home = data.toAbsolutePath();
        Files.createDirectories(home);

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pagecacheMb))
                .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"));
        if (txMaxMb > 0) {
            builder.setConfig(GraphDatabaseSettings.memory_transaction_max_size, ByteUnit.mebiBytes(txMaxMb));
        }
        DatabaseManagementService service = builder.build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            System.out.flush();
            service.shutdown();
            stopped.countDown();
        }, "kpigraph-neo4j-shutdown"));

        System.out.println("READY bolt://127.0.0.1:" + port);
        System.out.flush();
        stopped.await();
    }

    private static String require(String flag, String value) {
        if (value == null) {
            fail(flag + " needs a value");
        }
        return value;
    }

    private static boolean portFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void fail(String message) {
        System.err.println("ERROR " + message);
        System.exit(2);
    }
}
