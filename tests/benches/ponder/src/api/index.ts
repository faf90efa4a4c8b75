// Ponder requires an API file; the benchmark reads only `/ready` (served by Ponder itself).
import { Hono } from "hono";

export default new Hono();
