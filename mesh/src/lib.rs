//! Nocturne's peer-to-peer side, over libp2p.
//!
//! Two meshes will live here, knowing nothing of HTTP or SQL: the storage
//! mesh, where volunteer nodes hold Reed-Solomon fragments of ciphertext, and
//! the agent mesh (Kademlia DHT, web-of-trust enrollment, commit-reveal
//! votes). Neither exists yet; the `nocturne node` and `nocturne agent`
//! commands say so and exit non-zero until their issues land.
