// Rewrites Avro container files the way Apache Avro's own tools do it, in one JVM:
// `avro-tools tojson`, then `avro-tools fromjson --codec CODEC --schema SCHEMA`, for each
// codec given. Usage (a single-file program):
//   java -cp avro-tools-1.12.0.jar Recodec.java OUT_DIR CODECS IN.avro...
// writes OUT_DIR/<codec>/<name of IN>.avro for each codec (CODECS: comma-separated).
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.avro.tool.DataFileGetSchemaTool;
import org.apache.avro.tool.DataFileReadTool;
import org.apache.avro.tool.DataFileWriteTool;

public class Recodec {
    static String run(org.apache.avro.tool.Tool tool, byte[] in, List<String> args, Path out)
            throws Exception {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        PrintStream target = out == null ? new PrintStream(buffer, true, "UTF-8")
                                         : new PrintStream(new FileOutputStream(out.toFile()));
        int rc = tool.run(new ByteArrayInputStream(in), target,
                          new PrintStream(errors, true, "UTF-8"), args);
        target.close();
        if (rc != 0) {
            throw new IllegalStateException(tool.getName() + " " + args + " exited " + rc + ": "
                                            + errors.toString(StandardCharsets.UTF_8));
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        Path outDir = Path.of(args[0]);
        String[] codecs = args[1].split(",");
        for (int i = 2; i < args.length; i++) {
            Path input = Path.of(args[i]);
            String schema = run(new DataFileGetSchemaTool(), new byte[0],
                                List.of(input.toString()), null);
            String json = run(new DataFileReadTool(), new byte[0], List.of(input.toString()), null);
            for (String codec : codecs) {
                Path dir = outDir.resolve(codec);
                Files.createDirectories(dir);
                // fromjson's default --level (-1) is no preset for xz.
                List<String> options = codec.equals("xz")
                    ? List.of("--codec", codec, "--level", "6", "--schema", schema, "-")
                    : List.of("--codec", codec, "--schema", schema, "-");
                run(new DataFileWriteTool(), json.getBytes(StandardCharsets.UTF_8), options,
                    dir.resolve(input.getFileName()));
            }
        }
        System.out.println("recoded " + (args.length - 2) + " files x " + codecs.length);
    }
}
