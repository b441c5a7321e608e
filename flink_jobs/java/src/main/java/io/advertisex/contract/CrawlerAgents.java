package io.advertisex.contract;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Contract 2.6 known_crawler: whether a user agent matches the crawler list, the port of
 * advertisex/contract/invalid_traffic.py known_crawler. The patterns are not kept here: they
 * are the pinned crawler-user-agents package's, handed over by the Python side (a job
 * parameter, or a file for the harness), so the list has one home.
 *
 * <p>One alternation of every pattern, searched case-sensitively as the list's own matcher
 * does. That costs a scan of the agent per pattern, so answers are cached per agent (a
 * bounded, least-recently-used map): real traffic repeats a few agents very often.
 *
 * <p>Harness: {@code java -cp JAR io.advertisex.contract.CrawlerAgents PATTERNS.json} reads
 * user agents, one per line, from stdin and writes 1 (a crawler) or 0 per line.
 */
public final class CrawlerAgents {
  private static final int CACHED_AGENTS = 10_000;

  private final Pattern any;
  private final Map<String, Boolean> answers =
      new LinkedHashMap<>(1 << 10, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
          return size() > CACHED_AGENTS;
        }
      };

  private CrawlerAgents(Pattern any) {
    this.any = any;
  }

  /** From the list's patterns; a pattern Java cannot compile is an error naming it. */
  public static CrawlerAgents of(List<String> patterns) {
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("the crawler list has no patterns");
    }
    StringBuilder joined = new StringBuilder();
    for (String p : patterns) {
      try {
        Pattern.compile(p);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("crawler pattern " + p + ": " + e.getMessage(), e);
      }
      if (joined.length() > 0) {
        joined.append('|');
      }
      joined.append("(?:").append(p).append(')');
    }
    return new CrawlerAgents(Pattern.compile(joined.toString()));
  }

  /** From a JSON array of patterns (UTF-8). */
  @SuppressWarnings("unchecked")
  public static CrawlerAgents fromJson(byte[] json) {
    Object parsed = Json.parse(json, 0, json.length);
    if (!(parsed instanceof List<?>)) {
      throw new IllegalArgumentException("the crawler list must be a JSON array of patterns");
    }
    return of((List<String>) parsed);
  }

  /** Not thread-safe (the cache): one instance per function instance. */
  public boolean matches(String userAgent) {
    if (userAgent == null || userAgent.isEmpty()) {
      return false;
    }
    Boolean known = answers.get(userAgent);
    if (known == null) {
      known = any.matcher(userAgent).find();
      answers.put(userAgent, known);
    }
    return known;
  }

  public static void main(String[] args) throws IOException {
    CrawlerAgents list = fromJson(Files.readAllBytes(Path.of(args[0])));
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      out.println(list.matches(line) ? '1' : '0');
    }
    out.flush();
  }
}
