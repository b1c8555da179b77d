import type { Cluster, Redis } from 'ioredis';

/** A connection the application made: a standalone `Redis` or a `Cluster`. The stores never close it. */
export type RedisClient = Redis | Cluster;
