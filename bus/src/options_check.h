// Validation of BusOptions and of peers added at run time. Every error names
// the offending slot or endpoint and says how to fix it.
#pragma once

#include <vector>

#include "bus/bus.h"

namespace bp::bus {

// Checks one endpoint string: a supported scheme (ipc://, tcp://host:port,
// inproc://) with a non-empty address. `what` names it in the message.
Status CheckEndpoint(const std::string& endpoint, const std::string& what);

// Checks the whole option set given to Bus::Create.
Status CheckOptions(const BusOptions& options);

// Checks a peer about to be added next to `others` (the current peers, which
// may include an older address of the same slot) on a bus with `options`.
Status CheckNewPeer(const BusOptions& options, const std::vector<SlotAddress>& others,
                    const SlotAddress& peer);

}  // namespace bp::bus
