package io.advertisex.flink;

import io.advertisex.contract.ContractException;
import io.advertisex.contract.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.PartitionInfo;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.TopicPartition;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.errors.WakeupException;
import org.apache.flink.kafka.shaded.org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the compacted campaign topic to its end into a directory, then follows it in a
 * daemon thread until closed. It uses the Kafka client that the Flink Kafka connector
 * carries relocated, which is on the cluster's class path with the connector.
 */
final class CampaignTopicFollower implements AutoCloseable {
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final CampaignDirectory directory;
  private volatile boolean stopping;

  @SuppressWarnings("unchecked")
  CampaignTopicFollower(Map<String, Object> spec, CampaignDirectory directory) {
    this.directory = directory;
    Properties props = new Properties();
    if (spec.get("properties") instanceof Map<?, ?> extra) {
      props.putAll((Map<String, Object>) extra);
    }
    props.put("bootstrap.servers", spec.get("bootstrap"));
    props.put("enable.auto.commit", "false");
    props.put("isolation.level", "read_committed");
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    String topic = (String) spec.get("topic");
    // The relocated client finds its own classes through the context class loader.
    Thread thread = Thread.currentThread();
    ClassLoader previous = thread.getContextClassLoader();
    thread.setContextClassLoader(KafkaConsumer.class.getClassLoader());
    try {
      consumer = new KafkaConsumer<>(props);
    } finally {
      thread.setContextClassLoader(previous);
    }
    try {
      List<TopicPartition> partitions = new ArrayList<>();
      List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(60));
      for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
        consume(consumer.poll(Duration.ofSeconds(1)));
      }
    } catch (RuntimeException e) {
      consumer.close(Duration.ofSeconds(5));
      throw e;
    }
    Thread follower = new Thread(this::run, "campaign-directory " + topic);
    follower.setDaemon(true);
    follower.start();
  }

  private void run() {
    try {
      while (!stopping) {
        consume(consumer.poll(Duration.ofSeconds(5)));
      }
    } catch (WakeupException e) {
      // close() woke the poll: done.
    } finally {
      consumer.close(Duration.ofSeconds(5));
    }
  }

  private void consume(ConsumerRecords<byte[], byte[]> records) {
    for (ConsumerRecord<byte[], byte[]> record : records) {
      String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
      try {
        directory.apply(record.value() == null ? null : Json.parseObject(record.value()), key);
      } catch (ContractException | ClassCastException e) {
        // A row that is not a campaign object enriches nothing; the topic is ours.
      }
    }
  }

  @Override
  public void close() {
    stopping = true;
    consumer.wakeup();
  }
}
