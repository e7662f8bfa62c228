// Command franz is the franz-go driver of the compatibility suite.
//
// Every subcommand prints JSON on stdout: one object for one-shot commands, one object per line for
// "member". Failures print {"error": ...} and exit with status 1. Every wait is bounded by -timeout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	bootstrap          string
	clientID           string
	timeout            time.Duration
	topic              string
	topics             multiFlag // consume only: every -topic given, in order; topic is the first
	group              string
	groupProtocol      string
	partitions         int
	replicationFactor  int
	count              int
	start              int
	keys               int
	tag                string
	compression        string
	max                int
	expect             int
	settle             time.Duration
	commit             bool
	set                multiFlag
	explicitPartitions int
	partition          int
	offset             string
	headers            bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var stdout sync.Mutex

func emit(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	stdout.Lock()
	defer stdout.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

type object = map[string]any

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: franz <command> -bootstrap B [flags]")
		os.Exit(2)
	}
	command := os.Args[1]
	opts := options{}
	fs := flag.NewFlagSet(command, flag.ExitOnError)
	fs.StringVar(&opts.bootstrap, "bootstrap", "", "bootstrap servers, comma separated")
	fs.StringVar(&opts.clientID, "client-id", "kpp-compat-franz", "client id")
	fs.DurationVar(&opts.timeout, "timeout", 30*time.Second, "bound on every wait")
	if command == "consume" {
		fs.Var(&opts.topics, "topic", "topic (repeatable: one group member subscribes to them all)")
	} else {
		fs.StringVar(&opts.topic, "topic", "", "topic")
	}
	fs.StringVar(&opts.group, "group", "", "consumer group")
	fs.StringVar(&opts.groupProtocol, "group-protocol", "classic", "classic or consumer (KIP-848)")
	fs.IntVar(&opts.partitions, "partitions", 3, "partitions of a new topic")
	fs.IntVar(&opts.replicationFactor, "replication-factor", 3, "replication factor of a new topic")
	fs.IntVar(&opts.count, "count", 0, "records to produce")
	fs.IntVar(&opts.start, "start", 0, "index of the first record")
	fs.IntVar(&opts.keys, "keys", 10, "distinct keys")
	fs.StringVar(&opts.tag, "tag", "v", "value prefix")
	fs.StringVar(&opts.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&opts.max, "max", 0, "stop after this many records (0: no limit)")
	fs.IntVar(&opts.expect, "expect", 0, "after this many records, wait -settle for more, then stop")
	fs.DurationVar(&opts.settle, "settle", 2*time.Second, "quiet period after -expect records")
	fs.BoolVar(&opts.commit, "commit", false, "commit every consumed record synchronously")
	fs.Var(&opts.set, "set", "NAME=VALUE topic config to set (repeatable)")
	fs.IntVar(&opts.explicitPartitions, "explicit-partitions", 0, "send record i to partition i mod N, valued <tag>:<partition>:<sequence>")
	fs.IntVar(&opts.partition, "partition", -1, "consume this partition directly instead of joining the group")
	fs.StringVar(&opts.offset, "offset", "earliest", "earliest, latest or an offset (with -partition)")
	fs.BoolVar(&opts.headers, "headers", false, "report each consumed record's headers")
	fs.Parse(os.Args[2:])
	if len(opts.topics) > 0 {
		opts.topic = opts.topics[0]
	}

	commands := map[string]func(context.Context, options) error{
		"metadata":        metadata,
		"create-topic":    createTopic,
		"delete-topic":    deleteTopic,
		"produce":         produce,
		"consume":         consume,
		"member":          member,
		"describe-group":  describeGroup,
		"delete-group":    deleteGroup,
		"describe-config": describeConfig,
		"alter-config":    alterConfig,
	}
	run, ok := commands[command]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown command %q\n", command)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	if err := run(ctx, opts); err != nil {
		emit(object{"error": err.Error()})
		cancel()
		os.Exit(1)
	}
}

func newClient(opts options, extra ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(opts.bootstrap, ",")...),
		kgo.ClientID(opts.clientID),
		kgo.RequestTimeoutOverhead(5 * time.Second),
	}
	return kgo.NewClient(append(base, extra...)...)
}

func newAdmin(opts options) (*kadm.Client, error) {
	client, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(client), nil
}

func brokersJSON(brokers kadm.BrokerDetails) []object {
	out := make([]object, 0, len(brokers))
	for _, b := range brokers {
		out = append(out, object{"id": b.NodeID, "host": b.Host, "port": b.Port})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["id"].(int32) < out[j]["id"].(int32) })
	return out
}

func metadata(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	var topics []string
	if opts.topic != "" {
		topics = []string{opts.topic}
	}
	md, err := admin.Metadata(ctx, topics...)
	if err != nil {
		return err
	}
	topicsJSON := object{}
	for name, detail := range md.Topics {
		if strings.HasPrefix(name, "__") {
			continue
		}
		partitions := object{}
		for id, p := range detail.Partitions {
			partitions[fmt.Sprint(id)] = object{"leader": p.Leader, "replicas": p.Replicas, "isrs": p.ISR}
		}
		entry := object{"partitions": partitions, "error": nil}
		if detail.Err != nil {
			entry["error"] = detail.Err.Error()
		}
		topicsJSON[name] = entry
	}
	emit(object{"brokers": brokersJSON(md.Brokers), "topics": topicsJSON, "controller_id": md.Controller, "cluster": object{"id": md.Cluster}})
	return nil
}

func createTopic(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	created, err := admin.CreateTopic(ctx, int32(opts.partitions), int16(opts.replicationFactor), nil, opts.topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", opts.topic, err)
	}
	for {
		md, err := admin.Metadata(ctx, opts.topic)
		if err != nil {
			return err
		}
		detail, ok := md.Topics[opts.topic]
		if ok && detail.Err == nil && len(detail.Partitions) == opts.partitions {
			ready := true
			for _, p := range detail.Partitions {
				ready = ready && p.Leader >= 0 && p.Err == nil
			}
			if ready {
				emit(object{"created": opts.topic, "partitions": len(detail.Partitions)})
				return nil
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("topic %s has no leaders: %w", opts.topic, err)
		}
	}
}

func deleteTopic(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	deleted, err := admin.DeleteTopic(ctx, opts.topic)
	if err == nil {
		err = deleted.Err
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", opts.topic, err)
	}
	for {
		topics, err := admin.ListTopics(ctx)
		if err != nil {
			return err
		}
		if !topics.Has(opts.topic) {
			emit(object{"deleted": opts.topic})
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("topic %s still listed: %w", opts.topic, err)
		}
	}
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q", name)
}

func produce(ctx context.Context, opts options) error {
	codec, err := compressionCodec(opts.compression)
	if err != nil {
		return err
	}
	producerOptions := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RecordDeliveryTimeout(opts.timeout),
		kgo.DefaultProduceTopic(opts.topic),
	}
	if opts.explicitPartitions > 0 {
		producerOptions = append(producerOptions, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	client, err := newClient(opts, producerOptions...)
	if err != nil {
		return err
	}
	defer client.Close()
	var mu sync.Mutex
	delivered := []object{}
	failures := []string{}
	var wg sync.WaitGroup
	for i := opts.start; i < opts.start+opts.count; i++ {
		record := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", i%opts.keys), Value: fmt.Appendf(nil, "%s-%d", opts.tag, i)}
		if opts.explicitPartitions > 0 {
			// Record i goes to partition i mod N, valued "<tag>:<partition>:<sequence within that partition>".
			partition, sequence := i%opts.explicitPartitions, i/opts.explicitPartitions
			record.Partition = int32(partition)
			record.Key = fmt.Appendf(nil, "%s:%d:%d", opts.tag, partition, sequence)
			record.Value = record.Key
		}
		wg.Add(1)
		client.Produce(ctx, record, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			delivered = append(delivered, recordJSON(r))
		})
	}
	wg.Wait()
	emit(object{"delivered": delivered, "errors": failures, "compression": opts.compression})
	if len(failures) > 0 {
		return fmt.Errorf("%d records failed, first: %s", len(failures), failures[0])
	}
	return nil
}

func recordJSON(r *kgo.Record) object {
	return object{"key": string(r.Key), "value": string(r.Value), "partition": r.Partition, "offset": r.Offset}
}

func recordWithHeadersJSON(r *kgo.Record) object {
	out := recordJSON(r)
	headers := [][]string{}
	for _, h := range r.Headers {
		headers = append(headers, []string{h.Key, string(h.Value)})
	}
	out["headers"] = headers
	return out
}

// directOptions consume one partition without a group, from -offset.
func directOptions(opts options) ([]kgo.Opt, error) {
	start := kgo.NewOffset()
	switch opts.offset {
	case "earliest":
		start = start.AtStart()
	case "latest":
		start = start.AtEnd()
	default:
		var at int64
		if _, err := fmt.Sscan(opts.offset, &at); err != nil {
			return nil, fmt.Errorf("-offset %q: %w", opts.offset, err)
		}
		start = start.At(at)
	}
	return []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{opts.topic: {int32(opts.partition): start}}),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, nil
}

// subscription is every topic the group member subscribes to: all -topic flags of consume, else -topic.
func (o options) subscription() []string {
	if len(o.topics) > 0 {
		return o.topics
	}
	return []string{o.topic}
}

func groupOptions(opts options, extra ...kgo.Opt) []kgo.Opt {
	out := []kgo.Opt{
		kgo.ConsumerGroup(opts.group),
		kgo.ConsumeTopics(opts.subscription()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(10 * time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if opts.groupProtocol == "consumer" {
		out = append(out, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	}
	return append(out, extra...)
}

// consume reads until -max records, or -expect records and a quiet -settle, or the timeout. -topic may be
// repeated to subscribe one group member to several topics; every record reports its topic. With -partition it
// reads that partition of the first topic directly.
func consume(ctx context.Context, opts options) error {
	consumerOptions := groupOptions(opts)
	if opts.partition >= 0 {
		direct, err := directOptions(opts)
		if err != nil {
			return err
		}
		consumerOptions = direct
	}
	client, err := newClient(opts, consumerOptions...)
	if err != nil {
		return err
	}
	defer client.Close()
	records := []object{}
	var settleUntil time.Time
	for ctx.Err() == nil {
		if opts.max > 0 && len(records) >= opts.max {
			break
		}
		if !settleUntil.IsZero() && time.Now().After(settleUntil) {
			break
		}
		pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fetches := client.PollRecords(pollCtx, 100)
		cancel()
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("fetch %s[%d]: %w", topic, partition, err)
			}
		})
		if fetchErr != nil {
			client.AllowRebalance()
			return fetchErr
		}
		for _, r := range fetches.Records() {
			if opts.max > 0 && len(records) >= opts.max {
				break
			}
			record := recordJSON(r)
			if opts.headers {
				record = recordWithHeadersJSON(r)
			}
			record["topic"] = r.Topic
			records = append(records, record)
			if opts.commit {
				if err := client.CommitRecords(ctx, r); err != nil {
					client.AllowRebalance()
					return fmt.Errorf("commit: %w", err)
				}
			}
			if opts.expect > 0 && len(records) >= opts.expect && settleUntil.IsZero() {
				settleUntil = time.Now().Add(opts.settle)
			}
		}
		client.AllowRebalance()
	}
	emit(object{"records": records})
	return nil
}

func partitionList(assigned map[string][]int32, topic string) []int32 {
	out := append([]int32{}, assigned[topic]...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// member is a long-lived group member that streams its assignments and records until SIGTERM.
func member(ctx context.Context, opts options) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	client, err := newClient(opts, groupOptions(opts,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			emit(object{"event": "assigned", "partitions": partitionList(assigned, opts.topic)})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			emit(object{"event": "revoked", "partitions": partitionList(revoked, opts.topic)})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			emit(object{"event": "lost", "partitions": partitionList(lost, opts.topic)})
		}),
	)...)
	if err != nil {
		return err
	}
	emit(object{"event": "started"})
	defer func() {
		client.Close()
		emit(object{"event": "closed"})
	}()
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if ctx.Err() != nil {
			return nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fetches := client.PollRecords(pollCtx, 100)
		cancel()
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				emit(object{"event": "error", "error": fmt.Sprintf("fetch %s[%d]: %v", topic, partition, err)})
			}
		})
		for _, r := range fetches.Records() {
			if err := client.CommitRecords(ctx, r); err != nil {
				// A commit can lose a race with a rebalance; the record then goes, uncounted, to its next owner.
				emit(object{"event": "warning", "error": "commit: " + err.Error()})
				continue
			}
			emit(object{"event": "record", "key": string(r.Key), "value": string(r.Value), "partition": r.Partition, "offset": r.Offset})
		}
		client.AllowRebalance()
	}
}

func describeGroup(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	lags, err := admin.Lag(ctx, opts.group)
	if err != nil {
		return err
	}
	lag, ok := lags[opts.group]
	if !ok {
		return fmt.Errorf("group %s not described", opts.group)
	}
	if errors.Is(lag.DescribeErr, kerr.GroupIDNotFound) {
		// DescribeGroups knows only classic groups; KIP-848 groups answer ConsumerGroupDescribe.
		return describeConsumerGroup(ctx, admin, opts.group)
	}
	if err := lag.Error(); err != nil {
		return err
	}
	members := []object{}
	for _, m := range lag.Members {
		partitions := []int32{}
		if assignment, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range assignment.Topics {
				partitions = append(partitions, t.Partitions...)
			}
		}
		members = append(members, memberJSON(m.ClientID, partitions))
	}
	partitions := []object{}
	total := int64(0)
	for _, l := range lag.Lag.Sorted() {
		if l.Commit.At < 0 {
			continue // never committed: no lag to report, as Kafka's tools show it
		}
		if l.Err != nil {
			return fmt.Errorf("lag of %s[%d]: %w", l.Topic, l.Partition, l.Err)
		}
		partitions = append(partitions, object{"topic": l.Topic, "partition": l.Partition, "committed": l.Commit.At, "end": l.End.Offset, "lag": l.Lag})
		total += l.Lag
	}
	emit(groupJSON(lag.Group, lag.State, lag.Coordinator, members, partitions, total))
	return nil
}

func describeConsumerGroup(ctx context.Context, admin *kadm.Client, group string) error {
	described, err := admin.DescribeConsumerGroups(ctx, group)
	if err != nil {
		return err
	}
	description, ok := described[group]
	if !ok {
		return fmt.Errorf("group %s not described", group)
	}
	if description.Err != nil {
		return description.Err
	}
	members := []object{}
	for _, m := range description.Members {
		partitions := []int32{}
		m.Assignment.Each(func(_ string, p int32) { partitions = append(partitions, p) })
		members = append(members, memberJSON(m.ClientID, partitions))
	}
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return err
	}
	if err := committed.Error(); err != nil {
		return err
	}
	ends, err := admin.ListEndOffsets(ctx, committed.Offsets().TopicsSet().Topics()...)
	if err != nil {
		return err
	}
	partitions := []object{}
	total := int64(0)
	for _, o := range committed.Sorted() {
		if o.At < 0 {
			continue
		}
		end, ok := ends.Lookup(o.Topic, o.Partition)
		if !ok || end.Err != nil {
			return fmt.Errorf("end offset of %s[%d]: %v", o.Topic, o.Partition, end.Err)
		}
		partitions = append(partitions, object{"topic": o.Topic, "partition": o.Partition, "committed": o.At, "end": end.Offset, "lag": end.Offset - o.At})
		total += end.Offset - o.At
	}
	emit(groupJSON(group, description.State, description.Coordinator, members, partitions, total))
	return nil
}

func memberJSON(clientID string, partitions []int32) object {
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	return object{"client_id": clientID, "partitions": partitions}
}

func groupJSON(group, state string, coordinator kadm.BrokerDetail, members, partitions []object, totalLag int64) object {
	return object{
		"group":       group,
		"state":       state,
		"coordinator": object{"id": coordinator.NodeID, "host": coordinator.Host, "port": coordinator.Port},
		"members":     members,
		"partitions":  partitions,
		"total_lag":   totalLag,
	}
}

func deleteGroup(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	deleted, err := admin.DeleteGroup(ctx, opts.group)
	if err == nil {
		err = deleted.Err
	}
	if err != nil {
		return err
	}
	emit(object{"deleted": opts.group})
	return nil
}

func topicConfigs(ctx context.Context, admin *kadm.Client, topic string) (map[string]*string, error) {
	described, err := admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	resource, err := described.On(topic, nil)
	if err != nil {
		return nil, err
	}
	if resource.Err != nil {
		return nil, resource.Err
	}
	out := map[string]*string{}
	for _, c := range resource.Configs {
		out[c.Key] = c.Value
	}
	return out, nil
}

func describeConfig(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	configs, err := topicConfigs(ctx, admin, opts.topic)
	if err != nil {
		return err
	}
	emit(object{"configs": configs})
	return nil
}

func alterConfig(ctx context.Context, opts options) error {
	admin, err := newAdmin(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	alters := []kadm.AlterConfig{}
	for _, assignment := range opts.set {
		name, value, ok := strings.Cut(assignment, "=")
		if !ok {
			return fmt.Errorf("-set %q is not NAME=VALUE", assignment)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: &value})
	}
	responses, err := admin.AlterTopicConfigs(ctx, alters, opts.topic)
	if err != nil {
		return err
	}
	for _, r := range responses {
		if r.Err != nil {
			return fmt.Errorf("alter %s: %w (%s)", r.Name, r.Err, r.ErrMessage)
		}
	}
	configs, err := topicConfigs(ctx, admin, opts.topic)
	if err != nil {
		return err
	}
	emit(object{"configs": configs})
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
