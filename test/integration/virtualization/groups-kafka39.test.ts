import { describeGroupOffsets } from "./groups-suite.ts";

describeGroupOffsets("3.9");
