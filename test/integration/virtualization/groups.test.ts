import { describeGroupOffsets } from "./groups-suite.ts";

describeGroupOffsets("4");
