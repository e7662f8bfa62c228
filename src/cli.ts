console.log("kafka-partition-proxy");
