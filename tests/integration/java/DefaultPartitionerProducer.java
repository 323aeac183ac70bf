// A producer as a carrier's Java services write: the Kafka client's defaults, so the
// default partitioner (murmur2 of the key). Reads tab-separated lines: topic, key, value
// (base64), timestamp (ms), then header name and value (base64) pairs. Run as a
// single-file program: java -cp "<kafka libs>/*" DefaultPartitionerProducer.java HOST:PORT FILE
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class DefaultPartitionerProducer {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        Base64.Decoder base64 = Base64.getDecoder();
        int sent = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            for (String line : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
                String[] f = line.split("\t", -1);
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                    f[0], null, Long.parseLong(f[3]), f[1].getBytes(StandardCharsets.UTF_8),
                    base64.decode(f[2]));
                for (int i = 4; i + 1 < f.length; i += 2) {
                    record.headers().add(f[i], base64.decode(f[i + 1]));
                }
                producer.send(record).get();
                sent++;
            }
        }
        System.out.println("sent " + sent);
    }
}
