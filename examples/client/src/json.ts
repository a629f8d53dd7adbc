/** The JSON scalar's values (definitions, execution inputs and outputs, event data). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
