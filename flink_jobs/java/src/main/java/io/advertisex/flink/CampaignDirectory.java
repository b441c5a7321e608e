package io.advertisex.flink;

import io.advertisex.contract.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The campaign dimension in memory: loaded whole from the compacted topic (or the batch
 * input's JSON Lines file) before the first record is enriched, then followed in a
 * background thread, so enrichment is a map lookup and waits for no watermark. The port of
 * flink_jobs/campaigns.py: a newer {@code updated_at_ms} replaces an older row, a tombstone
 * deletes, a campaign missing from it is kept and flagged (campaign_known false).
 *
 * <p>One directory per source of rows is shared by every function instance of a
 * TaskManager's job: the last to close stops its thread.
 */
public final class CampaignDirectory {
  /** (advertiser_id, name, status, daily budget micros, known) of one campaign. */
  public record Entry(String advertiserId, String name, String status, Long dailyBudgetMicros) {}

  private static final Map<String, Shared> SHARED = new HashMap<>();

  private final Map<String, Entry> byId = new ConcurrentHashMap<>();
  private final Map<String, Long> versions = new HashMap<>();

  /** The campaign of an id, or null when the dimension does not know it. */
  public Entry lookup(String campaignId) {
    return campaignId == null ? null : byId.get(campaignId);
  }

  public int size() {
    return byId.size();
  }

  /** One row of the dimension: newer versions replace older; a null row deletes key. */
  synchronized void apply(Map<String, Object> row, String key) {
    if (row == null) {
      if (key != null) {
        byId.remove(key);
        versions.remove(key);
      }
      return;
    }
    String id = (String) row.get("campaign_id");
    long updated = row.get("updated_at_ms") instanceof Number n ? n.longValue() : 0L;
    if (updated >= versions.getOrDefault(id, -1L)) {
      versions.put(id, updated);
      Object budget = row.get("daily_budget_micros");
      byId.put(
          id,
          new Entry(
              (String) row.get("advertiser_id"),
              (String) row.get("name"),
              (String) row.get("status"),
              budget instanceof Number b ? b.longValue() : null));
    }
  }

  /**
   * The directory a job's source of rows describes, opened on first use. source is the job
   * parameter {@code adx.campaigns}: URL-safe base64 of JSON {@code {"file": PATH}} or
   * {@code {"bootstrap": SERVERS, "topic": NAME, "properties": {Kafka client properties}}}.
   */
  public static synchronized CampaignDirectory open(String source) {
    Shared shared = SHARED.get(source);
    if (shared == null) {
      shared = new Shared(source);
      SHARED.put(source, shared);
    }
    shared.users++;
    return shared.directory;
  }

  /** One user fewer; the last one stops the follower. */
  public static synchronized void release(String source) {
    Shared shared = SHARED.get(source);
    if (shared != null && --shared.users == 0) {
      SHARED.remove(source);
      shared.stop();
    }
  }

  private static final class Shared {
    final CampaignDirectory directory = new CampaignDirectory();
    int users;
    // The topic's follower; batch reads a file and has no Kafka client on its class path.
    private AutoCloseable follower;

    Shared(String source) {
      // URL-safe base64 of JSON (flink_jobs/udfs.py CampaignSource.job_parameter).
      Map<String, Object> spec = Json.parseObject(Base64.getUrlDecoder().decode(source));
      if (spec.get("file") instanceof String file) {
        readFile(Path.of(file));
      } else {
        follower = new CampaignTopicFollower(spec, directory);
      }
    }

    private void readFile(Path path) {
      try {
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
          if (!line.isBlank()) {
            directory.apply(Json.parseObject(line.getBytes(StandardCharsets.UTF_8)), null);
          }
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot read the campaigns file " + path + ": " + e, e);
      }
    }

    void stop() {
      if (follower != null) {
        try {
          follower.close();
        } catch (Exception e) {
          // Closing a consumer of a job that ends: nothing is left to save.
        }
      }
    }
  }
}
