package io.advertisex.flink;

import io.advertisex.contract.CrawlerAgents;
import java.util.Base64;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * adx_known_crawler(user_agent): contract 2.6 known_crawler (io.advertisex.contract
 * CrawlerAgents). The crawler list's patterns come as a job parameter that the pipeline's
 * driver sets from the pinned Python package (flink_jobs/udfs.py), so the JVM and the
 * reference judge with the same list.
 */
public final class KnownCrawlerFunction extends ScalarFunction {
  /** The job parameter: the patterns as a JSON array, in URL-safe base64. */
  public static final String PATTERNS_PARAMETER = "adx.crawler-patterns";

  private transient CrawlerAgents crawlers;

  @Override
  public void open(FunctionContext context) {
    String encoded = context.getJobParameter(PATTERNS_PARAMETER, null);
    if (encoded == null) {
      throw new IllegalStateException(
          "job parameter " + PATTERNS_PARAMETER + " is not set: the pipeline's driver sets "
              + "it (pipeline.global-job-parameters) to the crawler-user-agents patterns");
    }
    crawlers = CrawlerAgents.fromJson(Base64.getUrlDecoder().decode(encoded));
  }

  public Boolean eval(String userAgent) {
    return crawlers.matches(userAgent);
  }
}
