"""Operations: the local stack (Kafka, Redis) and the tools that run against a deployment."""
